// Whether a wheel someone else built (upstream's, on PyPI) installs on one of
// the farm's build targets: an interpreter ABI (the build machine's ABI tag,
// "cp311") on a platform ("linux_aarch64"). When it does, pip on that target
// takes the upstream wheel and a build of ours adds nothing (and publishing
// one under the same name with other bytes breaks pip's hash checks).
//
// The rule is pip's own (packaging.tags.sys_tags for CPython), read from the
// file name alone: the interpreter's own tag with its ABI, abi3 for the same
// or an older CPython 3, and "none" for the interpreter, py3 or an older py3x;
// on the target's platform, or "any". manylinux wheels count only when the
// target's glibc is known (a build machine's OS says it; a name does not).
import { tryParseWheelFilename, wheelTags } from './name.ts';

export interface BuildTarget {
  /** The build machine's ABI tag: "cp311", "cp37m", "cp34m". */
  abi: string;
  /** The platform tag its wheels carry: "linux_armv7l", "linux_aarch64". */
  platform: string;
  /** The target's glibc (major, minor), when known: manylinux wheels up to it install. */
  glibc?: readonly [number, number];
}

interface Interpreter {
  major: number;
  minor: number;
}

/** CPython's version from its ABI tag ("cp311" → 3.11, "cp37m" → 3.7); null for anything else. */
function cpython(abi: string): Interpreter | null {
  const match = /^cp(\d)(\d+)[a-z]*$/.exec(abi);
  if (match === null) return null;
  return { major: Number(match[1]), minor: Number(match[2]) };
}

/** The legacy manylinux names and the glibc they stand for (PEP 600). */
const LEGACY_MANYLINUX: ReadonlyMap<string, readonly [number, number]> = new Map([
  ['manylinux1', [2, 5]],
  ['manylinux2010', [2, 12]],
  ['manylinux2014', [2, 17]],
]);

/** The architecture of a "linux_<arch>" platform tag, or null. */
function linuxArch(platform: string): string | null {
  return platform.startsWith('linux_') ? platform.slice('linux_'.length) : null;
}

function platformFits(tag: string, target: BuildTarget): boolean {
  if (tag === 'any' || tag === target.platform) return true;
  const arch = linuxArch(target.platform);
  if (arch === null || target.glibc === undefined) return false;
  let needs: readonly [number, number] | undefined;
  const modern = /^manylinux_(\d+)_(\d+)_(.+)$/.exec(tag);
  if (modern !== null) {
    if (modern[3] !== arch) return false;
    needs = [Number(modern[1]), Number(modern[2])];
  } else {
    const legacy = /^(manylinux\d+)_(.+)$/.exec(tag);
    if (legacy === null || legacy[2] !== arch) return false;
    needs = LEGACY_MANYLINUX.get(legacy[1] as string);
  }
  if (needs === undefined) return false;
  const [major, minor] = target.glibc;
  return needs[0] < major || (needs[0] === major && needs[1] <= minor);
}

/** "py3", "py311" (minor given) from a python tag of the generic kind; null otherwise. */
function generic(tag: string): { major: number; minor: number | null } | null {
  const match = /^py(\d)(\d*)$/.exec(tag);
  if (match === null) return null;
  return { major: Number(match[1]), minor: match[2] === '' ? null : Number(match[2]) };
}

function interpreterFits(python: string, abi: string, target: BuildTarget, cp: Interpreter | null): boolean {
  const own = cp === null ? null : `cp${cp.major}${cp.minor}`;
  if (abi === target.abi) return python === own;
  if (abi === 'abi3') {
    // the stable ABI: built for CPython 3.x, it loads on 3.x and later
    const built = /^cp3(\d+)$/.exec(python);
    return cp !== null && cp.major === 3 && built !== null && Number(built[1]) <= cp.minor;
  }
  if (abi !== 'none') return false;
  if (python === own) return true;
  const py = generic(python);
  if (py === null) return false;
  // an interpreter we cannot read the version of still runs plain "py3" code
  if (cp === null) return py.major === 3 && py.minor === null;
  return py.major === cp.major && (py.minor === null || py.minor <= cp.minor);
}

/**
 * True when the wheel named `filename` installs on `target`; false for a
 * name that is not a wheel's.
 */
export function wheelInstallsOn(filename: string, target: BuildTarget): boolean {
  const wheel = tryParseWheelFilename(filename);
  if (wheel === null) return false;
  const cp = cpython(target.abi);
  return wheelTags(wheel).some(([python, abi, platform]) => platformFits(platform, target) && interpreterFits(python, abi, target, cp));
}
