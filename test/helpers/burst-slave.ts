// A simulated slave that keeps building through master restarts: it loops
// HELLO → IDLE → BUILD → BUILT (a real wheel) → SEND → transfer → SENT →
// DONE, and when the master stops answering (killed) it drops its sockets,
// says HELLO to whoever listens next and carries on. Every DONE it receives
// is reported: that build is one the master acknowledged.
import { setTimeout as sleep } from 'node:timers/promises';
import { sendFile } from '../../shared/wire/file-transfer.ts';
import { createSocket } from '../../shared/wire/transport.ts';
import { FakeSlave, fakeWheel } from './fake-slave.ts';
import type { BuiltWheel } from './wheel.ts';

export interface Acknowledged {
  package: string;
  version: string;
  filename: string;
  sha256: string;
  slave: string;
}

export interface BurstSlaveOptions {
  label: string;
  slaveEndpoint: string;
  fileEndpoint: string;
  abi: string;
  /** The wheel to send for each `package version`. */
  wheels: ReadonlyMap<string, BuiltWheel>;
  onDone: (build: Acknowledged) => void;
  /** Seconds to wait for any reply or transfer step before assuming the master is gone. */
  replyTimeout?: number;
}

export const wheelKey = (pkg: string, version: string): string => `${pkg} ${version}`;

export class BurstSlave {
  private stopped = false;
  /** Connections made (1 + reconnections after the master went away). */
  connections = 0;
  transfers = 0;

  constructor(private readonly options: BurstSlaveOptions) {}

  stop(): void {
    this.stopped = true;
  }

  /** Builds until stop() or `deadline` (ms since the epoch). */
  async run(deadline: number): Promise<void> {
    while (!this.stopped && Date.now() < deadline) {
      this.connections += 1;
      const slave = new FakeSlave(this.options.slaveEndpoint, this.options.abi, 300, this.options.replyTimeout ?? 5);
      try {
        await this.session(slave, deadline);
      } catch {
        // the master died or refused us: start again with a fresh connection
        await sleep(100);
      } finally {
        slave.close();
      }
    }
  }

  private async session(slave: FakeSlave, deadline: number): Promise<void> {
    const ack = await slave.hello();
    if (ack.msg !== 'ACK') throw new Error(`HELLO answered with ${ack.msg}`);
    while (!this.stopped && Date.now() < deadline) {
      const reply = await slave.idle();
      if (reply.msg === 'SLEEP') {
        await sleep(100);
        continue;
      }
      if (reply.msg !== 'BUILD') throw new Error(`IDLE answered with ${reply.msg}`);
      const [pkg, version] = reply.data;
      const wheel = this.options.wheels.get(wheelKey(pkg, version));
      if (wheel === undefined) throw new Error(`no wheel for ${pkg} ${version}`);
      let answer = await slave.built(true, [fakeWheel(wheel.filename, wheel.bytes)]);
      while (answer.msg === 'SEND') {
        await this.transfer(slave.id, wheel.path);
        answer = await slave.sent();
      }
      if (answer.msg !== 'DONE') throw new Error(`BUILT answered with ${answer.msg}`);
      this.options.onDone({ package: pkg, version, filename: wheel.filename, sha256: wheel.sha256, slave: this.options.label });
    }
  }

  private async transfer(slaveId: number, path: string): Promise<void> {
    const socket = createSocket('DEALER', { linger: 0 });
    socket.connect(this.options.fileEndpoint);
    try {
      await sendFile(socket, slaveId, path, { helloInterval: 1, signal: AbortSignal.timeout((this.options.replyTimeout ?? 5) * 1000) });
      this.transfers += 1;
    } finally {
      socket.close(0);
    }
  }
}
