// The slave's half of piwheels' slave protocol as a pure decision: given
// what we last sent and what the master answered, what to do next. A reply
// that makes no sense where we are (a SEND for a file we never built, a CONT
// when idle) is not trusted: the slave starts over with a fresh HELLO instead
// of crashing, which is also how it recovers from a master that restarted.
import type { Message } from '../shared/wire/protocols.ts';
import { slaveDriver } from '../shared/wire/protocols.ts';

/** What the master may send us. */
export type MasterReply = Message<typeof slaveDriver.send>;

/** The requests we send, in the order the protocol allows. */
export type Request = 'HELLO' | 'IDLE' | 'BUSY' | 'BUILT' | 'SENT';

export type Action =
  | { kind: 'ack'; slaveId: number; indexUrl: string }
  | { kind: 'sleep'; paused: boolean }
  | { kind: 'build'; package: string; version: string }
  | { kind: 'cont' }
  /** DONE while building: stop the build and go back to IDLE. */
  | { kind: 'abort' }
  | { kind: 'send'; filename: string }
  /** DONE after BUILT or SENT: discard the build's files and go back to IDLE. */
  | { kind: 'done' }
  | { kind: 'die' }
  | { kind: 'reset'; reason: string };

export interface BuildFacts {
  /** Whether the finished build succeeded (only then are files sent). */
  succeeded: boolean;
  /** Names of the wheels it produced. */
  filenames: readonly string[];
}

export function decide(sent: Request, reply: MasterReply, build: BuildFacts | null): Action {
  if (reply.msg === 'DIE') return { kind: 'die' };
  const unexpected: Action = { kind: 'reset', reason: `unexpected ${reply.msg} in reply to ${sent}` };
  switch (sent) {
    case 'HELLO':
      if (reply.msg !== 'ACK') return unexpected;
      return { kind: 'ack', slaveId: reply.data[0], indexUrl: reply.data[1] };
    case 'IDLE':
      if (reply.msg === 'SLEEP') return { kind: 'sleep', paused: reply.data };
      if (reply.msg === 'BUILD') return { kind: 'build', package: reply.data[0], version: reply.data[1] };
      return unexpected;
    case 'BUSY':
      if (reply.msg === 'CONT') return { kind: 'cont' };
      if (reply.msg === 'DONE') return { kind: 'abort' };
      return unexpected;
    case 'BUILT':
    case 'SENT':
      if (reply.msg === 'DONE') return { kind: 'done' };
      if (reply.msg !== 'SEND') return unexpected;
      if (build === null || !build.succeeded) return { kind: 'reset', reason: `SEND ${reply.data} after a failed build` };
      if (!build.filenames.includes(reply.data)) return { kind: 'reset', reason: `SEND ${reply.data}: no such file was built` };
      return { kind: 'send', filename: reply.data };
  }
}

/**
 * The longest a master holds an IDLE before answering (a long poll, so that
 * new work goes out at once instead of after the slave's next nap). Our
 * coordinator holds at most this long by default; piwheels' answers at once.
 */
export const IDLE_HOLD_MS = 10_000;

/**
 * How long to wait for the reply to a request before deciding the master is
 * gone (and starting over with HELLO). HELLO and BUSY are answered at once,
 * IDLE within the hold above, while BUILT and SENT may take the master a
 * while (it records the build, or verifies the file), up to the master timeout.
 */
export function replyTimeoutMs(sent: Request, masterTimeoutMs: number, quickMs: number): number {
  switch (sent) {
    case 'HELLO':
    case 'BUSY':
      return Math.min(quickMs, masterTimeoutMs);
    case 'IDLE':
      return Math.min(masterTimeoutMs, quickMs + Math.min(IDLE_HOLD_MS, masterTimeoutMs / 3));
    case 'BUILT':
    case 'SENT':
      return masterTimeoutMs;
  }
}
