// Order of build ABIs. piwheels compares ABI tags as text, which puts cp311
// before cp39; the farm wants the oldest interpreter first (a version is
// first tried on the lowest ABI because most builds give a wheel for every
// ABI, and the oldest interpreter is the likeliest to be refused by a
// project's dependencies, not the other way round).

/** ABI tags whose wheels install on every build ABI. */
export const UNIVERSAL_ABIS: ReadonlySet<string> = new Set(['none', 'abi3']);

interface AbiKey {
  implementation: string;
  major: number;
  minor: number;
  suffix: string;
}

function parseAbi(tag: string): AbiKey | null {
  // cp39, cp311, cp34m, cp27mu, pp73: implementation letters, one digit of
  // major version, the rest minor, then flags.
  const match = /^([a-z]+)(\d)(\d*)([a-z_]*)$/.exec(tag);
  if (!match) return null;
  const [, implementation = '', major = '0', minor = '', suffix = ''] = match;
  return { implementation, major: Number(major), minor: minor === '' ? -1 : Number(minor), suffix };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders ABI tags by implementation, then interpreter version numerically,
 * then flags; tags that are not of that shape sort after the others, by text.
 */
export function compareAbis(a: string, b: string): number {
  const ka = parseAbi(a);
  const kb = parseAbi(b);
  if (ka === null || kb === null) {
    if (ka !== kb) return ka === null ? 1 : -1;
    return compareText(a, b);
  }
  return (
    compareText(ka.implementation, kb.implementation) ||
    ka.major - kb.major ||
    ka.minor - kb.minor ||
    compareText(ka.suffix, kb.suffix) ||
    compareText(a, b)
  );
}

export function sortAbis(tags: Iterable<string>): string[] {
  return [...tags].sort(compareAbis);
}
