// When the master gives up on a slave, as pure decisions. A slave's REQ
// socket speaks only when it has something to say, so silence means
// different things at different steps:
//
// - after BUILD or CONT the slave owes a BUSY or BUILT within seconds
//   (piwheels' slave waits 5-10 s on each CONT, ours 5 s), so a slave
//   silent for STALL_MS there has died mid-build and its build goes back to
//   the queue (piwheels waits out the whole busy timeout, 5 minutes);
// - after SEND the slave is transferring a file on the other endpoint; every
//   frame it sends there counts as a sign of life (a sender with nothing to
//   do says HELLO again every 5 s), so only a transfer silent for STALL_MS
//   means the slave is gone;
// - after ACK a slave sends IDLE at once; one that does not was never a
//   working slave (a HELLO flood), so it is forgotten after STALL_MS;
// - otherwise (asleep between IDLEs, or before any reply) the busy timeout
//   the slave announced applies, as in piwheels.
//
// While a request is being handled (an IDLE held, a BUILT being recorded)
// the master is the one the slave waits for, so it is never given up on.
// A reply the socket cannot deliver (the connection is gone) ends the slave
// at once; see SlaveDriver.

/** How long a slave may be silent when it owes the master a message promptly (ms). */
export const STALL_MS = 20_000;

/** How often the master looks for slaves to give up on (ms); STALL_MS plus this stays under 30 s. */
export const CHECK_INTERVAL_MS = 5_000;

/** The most slaves the master keeps state for; a HELLO beyond this is refused unless a stale one can go. */
export const DEFAULT_MAX_SLAVES = 1024;

/** What the master last told the slave (undefined before any reply). */
export type LastReply = 'ACK' | 'SLEEP' | 'BUILD' | 'CONT' | 'SEND' | 'DONE' | 'DIE' | undefined;

export interface SlaveFacts {
  lastReply: LastReply;
  /** True while a request of the slave is being handled. */
  inFlight: boolean;
  /** When the slave last sent a request (ms). */
  lastSeen: number;
  /** When the master last replied to it (ms); a held IDLE is answered long after it came. */
  repliedAt: number;
  /** When the slave last sent a frame on the file endpoint, if ever (ms). */
  lastFileActivity: number | undefined;
  /** The busy timeout the slave announced in HELLO (ms). */
  busyTimeoutMs: number;
}

export type Verdict =
  | { kind: 'keep' }
  /** The slave stopped mid-build or mid-transfer: its build goes back to the queue. */
  | { kind: 'stalled'; silentMs: number }
  /** Acknowledged but never asked for work. */
  | { kind: 'half-open'; silentMs: number }
  /** Silent for longer than its busy timeout. */
  | { kind: 'expired'; silentMs: number };

export function judge(slave: SlaveFacts, now: number): Verdict {
  if (slave.inFlight) return { kind: 'keep' };
  const silentMs = now - slave.lastSeen;
  const owedMs = now - Math.max(slave.lastSeen, slave.repliedAt);
  switch (slave.lastReply) {
    case 'BUILD':
    case 'CONT':
      if (owedMs > STALL_MS) return { kind: 'stalled', silentMs: owedMs };
      break;
    case 'SEND': {
      const quiet = Math.min(owedMs, now - (slave.lastFileActivity ?? Number.NEGATIVE_INFINITY));
      if (quiet > STALL_MS) return { kind: 'stalled', silentMs: quiet };
      break;
    }
    case 'ACK':
      if (owedMs > STALL_MS) return { kind: 'half-open', silentMs: owedMs };
      break;
  }
  return silentMs > slave.busyTimeoutMs ? { kind: 'expired', silentMs } : { kind: 'keep' };
}

export type Admission<S> = { kind: 'admit' } | { kind: 'evict'; slave: S } | { kind: 'refuse' };

/**
 * Whether a HELLO from a new peer gets a place in a table of `size` slaves.
 * When the table is full, only a slave that was acknowledged and never asked
 * for work may make room, the longest silent first: a flood of HELLOs then
 * only displaces itself, and working slaves stay.
 */
export function admit<S extends { lastReply: LastReply; inFlight: boolean; lastSeen: number }>(
  slaves: Iterable<S>,
  size: number,
  max: number,
): Admission<S> {
  if (size < max) return { kind: 'admit' };
  let oldest: S | null = null;
  for (const slave of slaves) {
    if (slave.lastReply !== 'ACK' || slave.inFlight) continue;
    if (oldest === null || slave.lastSeen < oldest.lastSeen) oldest = slave;
  }
  return oldest === null ? { kind: 'refuse' } : { kind: 'evict', slave: oldest };
}
