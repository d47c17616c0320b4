// The one rule every filename from a slave must pass before the master acts
// on it: a plain wheel filename (PEP 427) of the package being built. Anything
// else could escape the output tree or land in another package's index.
import { canonicalizeName } from '../../shared/names.ts';
import { WheelNameError, parseWheelFilename } from '../../shared/wheel/name.ts';

/** Returns why `filename` is refused for `pkg`, or null when it is acceptable. */
export function checkWheelFilename(filename: string, pkg: string): string | null {
  if (filename.length > 255) return `${JSON.stringify(filename)}: longer than 255 characters`;
  try {
    const wheel = parseWheelFilename(filename);
    if (canonicalizeName(wheel.distribution) !== canonicalizeName(pkg)) return `${JSON.stringify(filename)}: not a wheel of ${pkg}`;
    return null;
  } catch (error) {
    if (error instanceof WheelNameError) return error.message;
    throw error;
  }
}
