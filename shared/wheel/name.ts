// Wheel filenames (PEP 427 with PEP 425 compatibility tags) and the checks
// that keep a name received from a peer from escaping the directory it is
// written to.
//
// Public API:
//   parseWheelFilename(name)  -> WheelName, or throws WheelNameError
//   tryParseWheelFilename(name) -> WheelName | null
//   wheelTags(w)              every (python, abi, platform) triple a wheel's
//                             compressed tag sets (e.g. "py2.py3") stand for
//   isSafeFilename(name)      true when name is a plain file name: not empty,
//                             no "/", "\", "..", NUL or other control chars
//   assertSafeFilename(name)  throws UnsafeNameError unless isSafeFilename

export class WheelNameError extends Error {
  constructor(readonly filename: string, reason: string) {
    super(`invalid wheel filename ${JSON.stringify(filename)}: ${reason}`);
    this.name = 'WheelNameError';
  }
}

export class UnsafeNameError extends Error {
  constructor(readonly filename: string, reason: string) {
    super(`unsafe file name ${JSON.stringify(filename)}: ${reason}`);
    this.name = 'UnsafeNameError';
  }
}

export interface WheelName {
  filename: string;
  /** first component as written (piwheels' package_tag), e.g. "e2e_pure" */
  distribution: string;
  /** second component (package_version_tag) */
  version: string;
  /** optional build tag: it must start with digits, which sort numerically */
  build: { number: number; tag: string } | null;
  /** the compressed tag sets as written (py_version_tag, abi_tag, platform_tag) */
  pythonTag: string;
  abiTag: string;
  platformTag: string;
  /** the same, split on "." */
  pythonTags: string[];
  abiTags: string[];
  platformTags: string[];
}

const MAX_FILENAME_LENGTH = 255;

function unsafeReason(name: string): string | null {
  if (name.length === 0) return 'empty';
  if (name.length > MAX_FILENAME_LENGTH) return `longer than ${MAX_FILENAME_LENGTH} characters`;
  if (name.includes('/') || name.includes('\\')) return 'contains a path separator';
  if (name.includes('..')) return 'contains ".."';
  if (name === '.') return 'is "."';
  // NUL ends the name for the OS; other control characters only mislead logs
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'contains a control character';
  return null;
}

export function isSafeFilename(name: string): boolean {
  return unsafeReason(name) === null;
}

export function assertSafeFilename(name: string): void {
  const reason = unsafeReason(name);
  if (reason !== null) throw new UnsafeNameError(name, reason);
}

// A component holds no "-" (PEP 427 escapes it as "_"); tags are
// "."-separated lists of alphanumerics and "_".
const COMPONENT = /^[A-Za-z0-9_.+!]+$/;
const TAG_SET = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;
const BUILD_TAG = /^(\d+)([A-Za-z0-9_.]*)$/;

export function parseWheelFilename(filename: string): WheelName {
  const unsafe = unsafeReason(filename);
  if (unsafe !== null) throw new WheelNameError(filename, unsafe);
  if (!filename.toLowerCase().endsWith('.whl')) throw new WheelNameError(filename, 'does not end in .whl');
  const parts = filename.slice(0, -4).split('-');
  if (parts.length !== 5 && parts.length !== 6) {
    throw new WheelNameError(filename, `expected 5 or 6 "-"-separated parts, found ${parts.length}`);
  }
  const [distribution, version] = parts as [string, string];
  const [pythonTag, abiTag, platformTag] = parts.slice(-3) as [string, string, string];
  if (!COMPONENT.test(distribution)) throw new WheelNameError(filename, 'bad distribution name');
  if (!COMPONENT.test(version)) throw new WheelNameError(filename, 'bad version');
  let build: WheelName['build'] = null;
  if (parts.length === 6) {
    const m = BUILD_TAG.exec(parts[2]!);
    if (m === null) throw new WheelNameError(filename, 'build tag must start with a digit');
    build = { number: Number(m[1]), tag: m[2]! };
  }
  for (const [label, tag] of [['python', pythonTag], ['abi', abiTag], ['platform', platformTag]] as const) {
    if (!TAG_SET.test(tag)) throw new WheelNameError(filename, `bad ${label} tag ${JSON.stringify(tag)}`);
  }
  return {
    filename,
    distribution,
    version,
    build,
    pythonTag,
    abiTag,
    platformTag,
    pythonTags: pythonTag.split('.'),
    abiTags: abiTag.split('.'),
    platformTags: platformTag.split('.'),
  };
}

export function tryParseWheelFilename(filename: string): WheelName | null {
  try {
    return parseWheelFilename(filename);
  } catch (error) {
    if (error instanceof WheelNameError) return null;
    throw error;
  }
}

export function wheelTags(wheel: WheelName): Array<[python: string, abi: string, platform: string]> {
  const out: Array<[string, string, string]> = [];
  for (const py of wheel.pythonTags) {
    for (const abi of wheel.abiTags) {
      for (const plat of wheel.platformTags) out.push([py, abi, plat]);
    }
  }
  return out;
}
