// The one rule every filename from a slave must pass before the master acts
// on it: a plain wheel filename (PEP 427) of the package being built. Anything
// else could escape the output tree or land in another package's index.
import { canonicalizeName } from '../shared/names.ts';

const WHEEL = /^([A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?)-([A-Za-z0-9_.!+]+)(?:-(\d[A-Za-z0-9_.]*))?-([A-Za-z0-9_.]+)-([A-Za-z0-9_.]+)-([A-Za-z0-9_.]+)\.whl$/;

/** Returns why `filename` is refused for `pkg`, or null when it is acceptable. */
export function checkWheelFilename(filename: string, pkg: string): string | null {
  if (filename.includes('\0')) return `${JSON.stringify(filename)}: contains NUL`;
  if (filename.includes('/') || filename.includes('\\')) return `${JSON.stringify(filename)}: contains a path separator`;
  if (filename.includes('..')) return `${JSON.stringify(filename)}: contains ".."`;
  if (filename.length > 255) return `${JSON.stringify(filename)}: longer than 255 characters`;
  const m = WHEEL.exec(filename);
  if (!m) return `${JSON.stringify(filename)}: not a wheel filename`;
  if (canonicalizeName(m[1] ?? '') !== canonicalizeName(pkg)) return `${JSON.stringify(filename)}: not a wheel of ${pkg}`;
  return null;
}
