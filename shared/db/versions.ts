// Ordering many versions at once. compareVersions (shared/names.ts) parses
// both strings on every comparison, which costs tens of milliseconds for a
// project with a thousand releases; here each version is parsed once into a
// key and the keys are compared. The order is the same (PEP 440; legacy
// versions first, by text) and the unit tests hold the two together.
import { parse } from '@renovatebot/pep440';

// What parse() returns at run time (its published typings say less: the
// segments may be null and the local part is a list).
interface Parsed {
  epoch: number;
  release: number[];
  pre: readonly [string, number] | null;
  post: readonly [string, number] | null;
  dev: readonly [string, number] | null;
  local: ReadonlyArray<string | number> | null;
}

function segment(value: unknown): readonly [string, number] | null {
  return Array.isArray(value) && value.length === 2 ? [String(value[0]), Number(value[1])] : null;
}

function parseVersion(version: string): Parsed | null {
  const raw = parse(version);
  if (!raw) return null;
  const local: unknown = raw.local;
  return {
    epoch: raw.epoch,
    release: raw.release,
    pre: segment(raw.pre),
    post: segment(raw.post),
    dev: segment(raw.dev),
    local: Array.isArray(local) ? local.map((part: unknown) => (typeof part === 'number' ? part : String(part))) : null,
  };
}

export interface VersionKey {
  version: string;
  parsed: Parsed | null;
  /** Trailing zeros dropped: 1.0 == 1.0.0. */
  release: number[];
  // The remaining slots as plain numbers, so that comparing is cheap. A dev
  // release with neither pre nor post segment sorts before all pre-releases
  // of its release; no pre-release sorts after them.
  preLetter: number;
  preNumber: number;
  post: number;
  dev: number;
}

const PRE_LETTERS: Record<string, number> = { a: 0, b: 1, rc: 2 };

export function versionKey(version: string): VersionKey {
  const parsed = parseVersion(version);
  const release = parsed ? [...parsed.release] : [];
  while (release.length > 0 && release[release.length - 1] === 0) release.pop();
  let preLetter = Infinity;
  let preNumber = 0;
  if (parsed?.pre) {
    preLetter = PRE_LETTERS[parsed.pre[0]] ?? 0;
    preNumber = parsed.pre[1];
  } else if (parsed && !parsed.post && parsed.dev) {
    preLetter = -Infinity;
  }
  return {
    version,
    parsed,
    release,
    preLetter,
    preNumber,
    post: parsed?.post ? parsed.post[1] : -Infinity,
    dev: parsed?.dev ? parsed.dev[1] : Infinity,
  };
}

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareNumberLists(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    const c = compareNumbers(a[i] ?? 0, b[i] ?? 0);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

// Local segments: a missing one sorts first; alphanumeric parts sort before
// numeric ones, numbers numerically, and a shorter prefix first.
function compareLocal(a: Parsed['local'], b: Parsed['local']): number {
  if (!a || !b) return a === b ? 0 : a ? 1 : -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    const x = a[i];
    const y = b[i];
    const xNum = typeof x === 'number';
    const yNum = typeof y === 'number';
    if (xNum !== yNum) return xNum ? 1 : -1;
    const c = xNum ? compareNumbers(Number(x), Number(y)) : compareText(String(x), String(y));
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

export function compareVersionKeys(a: VersionKey, b: VersionKey): number {
  const pa = a.parsed;
  const pb = b.parsed;
  if (!pa || !pb) {
    if (pa !== pb) return pa ? 1 : -1;
    return compareText(a.version, b.version);
  }
  return (
    compareNumbers(pa.epoch, pb.epoch) ||
    compareNumberLists(a.release, b.release) ||
    compareNumbers(a.preLetter, b.preLetter) ||
    compareNumbers(a.preNumber, b.preNumber) ||
    compareNumbers(a.post, b.post) ||
    compareNumbers(a.dev, b.dev) ||
    compareLocal(pa.local, pb.local)
  );
}

/** True for dev and pre-releases (PEP 440); legacy versions are not. */
export function keyIsPrerelease(key: VersionKey): boolean {
  return key.parsed !== null && (key.parsed.pre !== null || key.parsed.dev !== null);
}
