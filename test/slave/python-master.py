"""A minimal master speaking piwheels' slave and file-transfer protocols,
written against pyzmq and cbor2 the way the Python piwheels master uses them,
to prove our slave interoperates. It runs one scripted session:

    HELLO -> ACK, IDLE -> BUILD, BUSY -> CONT ..., BUILT -> SEND,
    (file transfer), SENT -> DONE, IDLE -> DIE, BYE

It prints one JSON line with the ports it bound, then one JSON line with what
it saw, and exits 0; any protocol violation exits 1 with a message.

usage: python-master.py INDEX_URL PACKAGE VERSION
"""

import datetime as dt
import hashlib
import json
import sys

import cbor2
import zmq

TIMEDELTA_TAG = 2001
CHUNK = 65536
PIPELINE = 10
TIMEOUT_MS = 120000


def tag_hook(decoder, tag):
    if tag.tag == TIMEDELTA_TAG:
        days, seconds, microseconds = tag.value
        return dt.timedelta(days=days, seconds=seconds, microseconds=microseconds)
    return tag


def default(encoder, value):
    if isinstance(value, dt.timedelta):
        encoder.encode(cbor2.CBORTag(TIMEDELTA_TAG, [value.days, value.seconds, value.microseconds]))
    else:
        raise ValueError("cannot encode %r" % (value,))


def fail(message):
    sys.stderr.write("python-master: %s\n" % message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def check_types(values, types, what):
    check(isinstance(values, list) and len(values) == len(types), "%s: wrong length %r" % (what, values))
    for index, (value, kind) in enumerate(zip(values, types)):
        # bool is an int in Python; piwheels' schemas would not take one for the other
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        check(ok, "%s[%d]: %r is not %s" % (what, index, value, kind.__name__))


HELLO_TYPES = [dt.timedelta, dt.timedelta, str, str, str, str, str, str, str, str]
STATS_TYPES = [dt.datetime, int, int, int, int, int, int, float, float]
FILE_TYPES = [str, int, str, str, str, str, str, str, (str, type(None)), dict, str]


def recv(router, expected):
    if not router.poll(TIMEOUT_MS):
        fail("timed out waiting for %s" % expected)
    frames = router.recv_multipart()
    check(len(frames) == 3 and frames[1] == b"", "bad framing %r" % (frames,))
    message = cbor2.loads(frames[2], tag_hook=tag_hook)
    if isinstance(message, str):
        msg, data = message, None
    else:
        check(isinstance(message, list) and len(message) == 2, "bad message %r" % (message,))
        msg, data = message
    check(msg == expected, "expected %s, got %s" % (expected, msg))
    return frames[0], data


def send(router, address, msg, data=None):
    payload = msg if data is None else [msg, data]
    router.send_multipart([address, b"", cbor2.dumps(payload, default=default, timezone=dt.timezone.utc)])


def receive_file(files, size):
    """FileJuggler's side: FETCH what is missing (credit of PIPELINE), then DONE."""
    check(files.poll(TIMEOUT_MS), "no HELLO on the file socket")
    address, *frames = files.recv_multipart()
    check(frames[0] == b"HELLO", "file transfer must start with HELLO, got %r" % frames[0])
    slave_id = frames[1].decode("ascii")
    data = bytearray(size)
    pending = list(range(0, size, CHUNK))
    in_flight = set()
    received = set()
    while len(received) < len(range(0, size, CHUNK)):
        while pending and len(in_flight) < PIPELINE:
            offset = pending.pop(0)
            in_flight.add(offset)
            files.send_multipart([address, b"FETCH", str(offset).encode(), str(min(CHUNK, size - offset)).encode()])
        check(files.poll(TIMEOUT_MS), "file transfer went silent")
        address, *frames = files.recv_multipart()
        if frames[0] == b"HELLO":
            continue
        check(frames[0] == b"CHUNK", "expected CHUNK, got %r" % frames[0])
        offset = int(frames[1])
        data[offset:offset + len(frames[2])] = frames[2]
        in_flight.discard(offset)
        received.add(offset)
    files.send_multipart([address, b"DONE"])
    return slave_id, bytes(data)


def main():
    index_url, package, version = sys.argv[1:4]
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.linger = 1000
    files = ctx.socket(zmq.ROUTER)
    files.linger = 1000
    slave_port = router.bind_to_random_port("tcp://127.0.0.1")
    file_port = files.bind_to_random_port("tcp://127.0.0.1")
    print(json.dumps({"slave_port": slave_port, "file_port": file_port}), flush=True)

    seen = {}
    address, hello = recv(router, "HELLO")
    check_types(hello, HELLO_TYPES, "HELLO")
    seen["hello"] = [str(v) if isinstance(v, dt.timedelta) else v for v in hello]
    send(router, address, "ACK", [1, index_url])

    address, stats = recv(router, "IDLE")
    check_types(stats, STATS_TYPES, "IDLE")
    check(stats[0].tzinfo is not None, "IDLE timestamp must be timezone-aware")
    send(router, address, "BUILD", [package, version])

    address, stats = recv(router, "BUSY")
    check_types(stats, STATS_TYPES, "BUSY")
    busy = 1
    while True:
        send(router, address, "CONT")
        if not router.poll(TIMEOUT_MS):
            fail("timed out waiting for BUSY or BUILT")
        frames = router.recv_multipart()
        address = frames[0]
        msg, data = cbor2.loads(frames[2], tag_hook=tag_hook)
        if msg == "BUSY":
            check_types(data, STATS_TYPES, "BUSY")
            busy += 1
            continue
        check(msg == "BUILT", "expected BUSY or BUILT, got %s" % msg)
        built = data
        break
    check_types(built, [bool, dt.timedelta, str, list], "BUILT")
    status, duration, output, file_states = built
    for index, state in enumerate(file_states):
        check(isinstance(state, list) and len(state) == len(FILE_TYPES), "file %d: %r" % (index, state))
        for value, kind in zip(state, FILE_TYPES):
            check(isinstance(value, kind), "file %d: %r is not %s" % (index, value, kind))
        for tool, names in state[9].items():
            check(isinstance(tool, str) and isinstance(names, list), "dependencies %r" % (state[9],))
    seen["built"] = {
        "status": status,
        "duration": duration.total_seconds(),
        "output_length": len(output),
        "files": file_states,
        "busy": busy,
    }

    transfers = []
    if status and file_states:
        for state in file_states:
            filename, filesize, filehash = state[0], state[1], state[2]
            send(router, address, "SEND", filename)
            slave_id, data = receive_file(files, filesize)
            address, _ = recv(router, "SENT")
            transfers.append({
                "filename": filename,
                "slave_id": slave_id,
                "sha256": hashlib.sha256(data).hexdigest(),
                "expected": filehash,
            })
    seen["transfers"] = transfers
    send(router, address, "DONE")

    address, stats = recv(router, "IDLE")
    check_types(stats, STATS_TYPES, "IDLE")
    send(router, address, "DIE")
    recv(router, "BYE")
    print(json.dumps(seen), flush=True)
    router.close()
    files.close()
    ctx.term()


if __name__ == "__main__":
    main()
