// A scripted slave for fault tests: speaks the slave protocol over a real REQ
// socket and the file protocol over a real DEALER, but decides itself what to
// send (a large fake wheel, a corrupt chunk, a transfer cut short).
import { createHash } from 'node:crypto';
import * as zmq from 'zeromq';
import { Timedelta, UtcDateTime } from '../../shared/wire/cbor.ts';
import { reverse, slaveDriver, type FileStateMessage, type Message } from '../../shared/wire/protocols.ts';
import { createSocket, type WireSocket } from '../../shared/wire/transport.ts';

type Reply = Message<typeof slaveDriver.send>;

export class FakeSlave {
  private readonly socket: WireSocket<typeof slaveDriver.send, typeof slaveDriver.recv>;
  id = 0;
  /** Bytes its IDLE and BUSY stats say are free in the build directory (of 32 GiB); set it to act short of disk. */
  diskFree = 16 * 1024 ** 3;

  constructor(
    endpoint: string,
    readonly abi: string,
    private readonly busyTimeoutSeconds = 30,
    /** how long each request waits for the master's reply */
    private readonly replyTimeoutSeconds = 30,
    /** the native platform its HELLO reports */
    readonly platform = 'linux_x86_64',
  ) {
    this.socket = createSocket('REQ', { protocol: reverse(slaveDriver), linger: 0 });
    this.socket.connect(endpoint);
  }

  private stats(): [UtcDateTime, number, number, number, number, number, number, number, number] {
    return [UtcDateTime.now(), 32 * 1024 ** 3, this.diskFree, 1e9, 5e8, 0, 0, 0.5, 0];
  }

  async request(send: () => Promise<void>, timeoutSeconds = this.replyTimeoutSeconds): Promise<Reply> {
    await send();
    const reply = await this.socket.recv(timeoutSeconds);
    if (!reply) throw new Error('no reply from the master');
    return reply;
  }

  async hello(): Promise<Reply> {
    const reply = await this.request(() =>
      this.socket.send('HELLO', [
        new Timedelta(0, 3600), new Timedelta(0, this.busyTimeoutSeconds), '311', this.abi, this.platform,
        'fake', 'Debian GNU/Linux', '12 (bookworm)', '', '',
      ]),
    );
    if (reply.msg === 'ACK') this.id = reply.data[0];
    return reply;
  }

  idle(): Promise<Reply> {
    return this.request(() => this.socket.send('IDLE', this.stats()));
  }

  busy(): Promise<Reply> {
    return this.request(() => this.socket.send('BUSY', this.stats()));
  }

  built(status: boolean, files: FileStateMessage[]): Promise<Reply> {
    return this.request(() => this.socket.send('BUILT', [status, new Timedelta(0, 3), 'a scripted build\n', files]));
  }

  sent(): Promise<Reply> {
    return this.request(() => this.socket.send('SENT'));
  }

  /** Sends IDLE until the master hands out a build. */
  async untilBuild(timeoutMs = 60_000): Promise<[string, string]> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const reply = await this.idle();
      if (reply.msg === 'BUILD') return reply.data;
      if (reply.msg !== 'SLEEP') throw new Error(`unexpected ${reply.msg}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error('no build handed out');
  }

  close(): void {
    this.socket.close(0);
  }
}

/** A file state for `data` under `filename`, its tags read from the name (a py3-none-any wheel by default). */
export function fakeWheel(filename: string, data: Buffer): FileStateMessage {
  const parts = filename.replace(/\.whl$/, '').split('-');
  const [pkg = '', version = ''] = parts;
  // name-version[-build]-py-abi-platform
  const [py = 'py3', abi = 'none', platform = 'any'] = parts.length >= 5 ? parts.slice(-3) : [];
  return [
    filename, data.length, createHash('sha256').update(data).digest('hex'), pkg, version,
    py, abi, platform, null, { apt: [], pip: [], '': [] }, '/simple',
  ];
}

/**
 * The sender side of one transfer, under the test's control: answers FETCHes
 * from `data`, flipping the byte at `corruptAt` once (whatever chunk lengths
 * are asked for), and stops after `stopAfter` chunks (resolving without DONE)
 * when given.
 */
export async function sendChunks(endpoint: string, slaveId: number, data: Buffer, options: { corruptAt?: number; stopAfter?: number } = {}): Promise<'DONE' | 'STOPPED'> {
  const dealer = new zmq.Dealer({ linger: 0, receiveTimeout: 15_000 });
  dealer.connect(endpoint);
  try {
    await dealer.send(['HELLO', String(slaveId)]);
    let chunks = 0;
    let corrupted = false;
    for (;;) {
      const [msg, offset, size] = await dealer.receive();
      if (msg!.toString() === 'DONE') return 'DONE';
      if (options.stopAfter !== undefined && chunks >= options.stopAfter) return 'STOPPED';
      const start = Number(offset!.toString());
      const chunk = Buffer.from(data.subarray(start, start + Number(size!.toString())));
      const at = options.corruptAt;
      if (at !== undefined && !corrupted && start <= at && at < start + chunk.length) {
        chunk[at - start] = chunk[at - start]! ^ 0xff;
        corrupted = true;
      }
      await dealer.send(['CHUNK', String(start), chunk]);
      chunks += 1;
    }
  } finally {
    dealer.close();
  }
}
