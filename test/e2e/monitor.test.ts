import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PYTHON, startFarm, waitFor } from '../helpers/farm.ts';
import { FakeSlave } from '../helpers/fake-slave.ts';

// A monitor written the way piw-monitor talks (pyzmq + cbor2): PUSH control
// messages, SUB to the status stream, checking each message's shape as
// piwheels' monitor_stats protocol defines it.
const MONITOR = String.raw`
import sys, json, time, datetime, zmq, cbor2
status, control, slave_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
def tag_hook(decoder, tag, shareable_index=None):
    if tag.tag == 2001:
        return datetime.timedelta(*tag.value)
    return tag
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB); sub.setsockopt(zmq.SUBSCRIBE, b''); sub.connect(status)
push = ctx.socket(zmq.PUSH); push.connect(control)
seen = {}
end = time.time() + 60
while time.time() < end and not all(k in seen for k in ('HELLO', 'STATS', 'SLAVE')):
    push.send(cbor2.dumps('HELLO'))
    if sub.poll(1000):
        while sub.poll(0):
            name, data = cbor2.loads(sub.recv(), tag_hook=tag_hook)
            seen.setdefault(name, data)
hello, stats, slave = seen['HELLO'], seen['STATS'], seen['SLAVE']
aware = lambda d: isinstance(d, datetime.datetime) and d.tzinfo is not None
problems = []
if not (len(hello) == 6 and aware(hello[0]) and all(isinstance(x, str) for x in hello[1:])): problems.append('HELLO %r' % (hello,))
types = [datetime.datetime, int, dict, datetime.timedelta, int, dict] + [int] * 11 + [float, float]
if not (len(stats) == 19 and all(isinstance(v, t) for v, t in zip(stats, types)) and aware(stats[0])): problems.append('STATS %r' % (stats,))
if not (len(slave) == 4 and isinstance(slave[0], int) and aware(slave[1]) and isinstance(slave[2], str)): problems.append('SLAVE %r' % (slave,))
push.send(cbor2.dumps(['SLEEP', slave_id]))
push.send(cbor2.dumps('QUIT'))
time.sleep(0.5)
print(json.dumps({'problems': problems, 'seen': sorted(seen)}))
`;

test('a Python monitor (pyzmq + cbor2) sees HELLO, STATS and SLAVE and can SLEEP a slave and QUIT the master', async () => {
  const farm = await startFarm('sqlite', ['e2e-pure'], { follow: false });
  const slave = new FakeSlave(farm.slaveEndpoint, farm.abi);
  try {
    assert.equal((await slave.hello()).msg, 'ACK');
    const quit = farm.coordinator.untilQuit();
    const child = spawn(PYTHON, ['-c', MONITOR, farm.config.statusQueue, farm.config.controlQueue, String(slave.id)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, 'the monitor script ran');
    const result = JSON.parse(out) as { problems: string[]; seen: string[] };
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.seen, ['HELLO', 'SLAVE', 'STATS']);
    await waitFor('the slave put to sleep', () => farm.coordinator.slaveDriver.list().find((s) => s.id === slave.id)?.paused, 10_000);
    await quit;
  } finally {
    slave.close();
    await farm.stop();
  }
});
