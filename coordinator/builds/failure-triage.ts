// Why a build failed, decided from what the master has: the log (pip's
// output, and the frame our slave writes around it, see shared/build-log.ts),
// how long it ran against the slave's build timeout, and whether the slave
// was short of disk when it reported. piwheels' own slaves write no frame,
// so for them the log text and the master's facts decide alone.
import type { BuildEnding } from '../../shared/build-log.ts';
import type { FailureKind } from '../../shared/failure.ts';

export interface FailureFacts {
  /** The build log as received (frame included, if any). */
  log: string;
  /** How pip ended according to our slave's footer; null for other slaves (or a log cut short). */
  ending: BuildEnding | null;
  /** The log starts with our slave's header (so a missing footer means it was cut short). */
  framed: boolean;
  /** Seconds the build ran. */
  durationS: number;
  /** The slave's build timeout (seconds). */
  buildTimeoutS: number;
  /** The slave's last stats showed its disk below the farm's threshold. */
  diskLow: boolean;
}

/** Written by the master itself when it stops a build that outlived its timeout (slave-driver.ts). */
export const MASTER_TIMEOUT_NOTE = "Build stopped by the master: it exceeded the slave's build timeout";

const DISK = [/No space left on device/i, /\[Errno 28\]/, /\bENOSPC\b/, /Disk quota exceeded/i];

const KILLED = [
  /^Killed\s*$/m,
  /internal compiler error: Killed/,
  /\bsignal (?:9|SIGKILL)\b/,
  /\bkilled by (?:signal )?(?:9|SIGKILL|SIGTERM|SIGSEGV|SIGBUS)\b/i,
  /\bMemoryError\b/,
  /Cannot allocate memory/,
  /virtual memory exhausted/,
  /out of memory allocating/,
  /exited with (?:code|status) 137\b/,
];

const TIMEOUT = [/Build timed out after \d+ s/, /timed out after \d+ (?:s|seconds) and was killed/];

// pip fetching the sources (or build dependencies) and not getting them:
// the file is not (yet) served, or the network failed on the way.
const UPSTREAM = [
  /HTTP error (?:404|410|429|5\d\d) while getting/,
  /\b(?:404|410|429|5\d\d) Client Error\b/,
  /\b5\d\d Server Error\b/,
  /No matching distribution found for/,
  /Could not find a version that satisfies the requirement/,
  /ConnectionError|ConnectTimeoutError|NewConnectionError|ReadTimeoutError|ProtocolError\('Connection aborted/,
  /Connection (?:refused|reset by peer)/,
  /Temporary failure in name resolution|Name or service not known/,
  /Max retries exceeded with url/,
  /THESE PACKAGES DO NOT MATCH THE HASHES/,
  /IncompleteRead|Connection broken/,
];

/** The kind of a failed build. Checked from the most specific evidence to the least. */
export function classifyFailure(facts: FailureFacts): FailureKind {
  const { ending, log } = facts;
  if (ending?.kind === 'timeout' || log.includes(MASTER_TIMEOUT_NOTE)) return 'timeout';
  // a slave stopped by its master (or shutting down) lost the build through no fault of the package
  if (ending?.kind === 'stopped') return 'slave-lost';
  // our slave always ends its log with a footer (truncation keeps the tail): a log
  // without one was cut off on the way, which says nothing about the package
  if (facts.framed && ending === null) return 'slave-lost';
  if (DISK.some((re) => re.test(log))) return 'disk';
  if (ending?.kind === 'signal' || (ending?.kind === 'exit' && (ending.code === 137 || ending.code === -9))) return 'killed';
  if (KILLED.some((re) => re.test(log))) return 'killed';
  if (ending === null && TIMEOUT.some((re) => re.test(log))) return 'timeout';
  // piwheels' slave says nothing of a timeout: a build that ran for all of it was cut off
  if (ending === null && facts.buildTimeoutS > 0 && facts.durationS >= facts.buildTimeoutS * 0.98) return 'timeout';
  if (UPSTREAM.some((re) => re.test(log))) return 'upstream';
  // short of disk when it failed: the builder is suspect, not the package
  if (facts.diskLow) return 'disk';
  return 'package';
}
