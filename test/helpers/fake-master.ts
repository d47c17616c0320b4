// A scripted master for slave tests: the shared ROUTER sockets on real
// ZeroMQ, with the test deciding every reply. Also a minimal file receiver
// that asks for a file in 64 KiB FETCHes and keeps the bytes it gets.
import { createSocket, type WireSocket } from '../../shared/wire/transport.ts';
import { slaveDriver, type Message } from '../../shared/wire/protocols.ts';
import type { Table } from '../../shared/wire/protocols.ts';

type Router = WireSocket<typeof slaveDriver.recv, typeof slaveDriver.send>;
export type FromSlave = { address: Buffer } & Message<typeof slaveDriver.recv>;

export class FakeMaster {
  router: Router;

  private constructor(router: Router) {
    this.router = router;
  }

  static async start(endpoint: string): Promise<FakeMaster> {
    const router: Router = createSocket('ROUTER', { protocol: slaveDriver, linger: 0 });
    await router.bind(endpoint);
    return new FakeMaster(router);
  }

  /** The next request, which must be `msg`; fails the test after `timeoutS`. */
  async expect<K extends FromSlave['msg']>(msg: K, timeoutS = 30): Promise<Extract<FromSlave, { msg: K }>> {
    const got = await this.router.recvAddr(timeoutS);
    if (got === null) throw new Error(`no ${msg} from the slave within ${timeoutS} s`);
    if (got.msg !== msg) throw new Error(`expected ${msg}, got ${got.msg}`);
    return got as Extract<FromSlave, { msg: K }>;
  }

  /** Answers BUSY with CONT until BUILT arrives; returns it. */
  async untilBuilt(first: FromSlave, timeoutS = 120): Promise<Extract<FromSlave, { msg: 'BUILT' }>> {
    let request = first;
    const deadline = Date.now() + timeoutS * 1000;
    while (request.msg === 'BUSY') {
      if (Date.now() > deadline) throw new Error('build did not finish');
      await this.router.sendAddr(request.address, 'CONT');
      const next = await this.router.recvAddr(30);
      if (next === null) throw new Error('slave went silent while building');
      request = next;
    }
    if (request.msg !== 'BUILT') throw new Error(`expected BUILT, got ${request.msg}`);
    return request;
  }

  close(): void {
    this.router.close(0);
  }
}

/** Receives one file on a ROUTER bound at `endpoint`: resolves with the slave id and the bytes. */
export function receiveFile(
  endpoint: string,
  size: number,
  chunk = 65536,
): { ready: Promise<void>; done: Promise<{ slaveId: string; data: Buffer }> } {
  const router: WireSocket<Table, Table> = createSocket('ROUTER', { linger: 0 });
  const ready = router.bind(endpoint);
  const done = (async () => {
    await ready;
    try {
      const data = Buffer.alloc(size);
      let received = 0;
      let slaveId = '';
      for (;;) {
        const frames = await router.recvRaw(30);
        if (frames === null) throw new Error('file transfer went silent');
        const [address, head, ...args] = frames;
        if (address === undefined || head === undefined) continue;
        if (head.toString() === 'HELLO') {
          slaveId = args[0]?.toString() ?? '';
          for (let offset = 0; offset < size; offset += chunk) {
            await router.sendRaw([address, 'FETCH', String(offset), String(Math.min(chunk, size - offset))]);
          }
          if (size === 0) await router.sendRaw([address, 'DONE']);
        } else if (head.toString() === 'CHUNK') {
          const offset = Number(args[0]?.toString());
          const bytes = args[1] ?? Buffer.alloc(0);
          bytes.copy(data, offset);
          received += bytes.length;
          if (received >= size) {
            await router.sendRaw([address, 'DONE']);
            return { slaveId, data };
          }
        }
      }
    } finally {
      // Give the DONE a moment to leave before the socket goes.
      await new Promise((r) => setTimeout(r, 100));
      router.close(0);
    }
  })();
  return { ready, done };
}
