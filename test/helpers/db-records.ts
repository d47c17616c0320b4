// Build records and small checks shared by the data layer's tests: wheels
// and builds made up with plausible fields, a package's place in the build
// queue, and the derived tables' consistency.
import assert from 'node:assert/strict';
import type { BuildFileRecord, BuildRecord, Database } from '../../shared/db/index.ts';

export const HASH = (n: number): string => n.toString(16).padStart(64, '0');

export function wheel(pkg: string, version: string, abi: string, extra: Partial<BuildFileRecord> = {}): BuildFileRecord {
  const platform = abi === 'none' ? 'any' : 'linux_armv7l';
  const py = abi === 'none' ? 'py3' : abi === 'abi3' ? 'cp37' : abi;
  return {
    filename: `${pkg.replace(/-/g, '_')}-${version}-${py}-${abi}-${platform}.whl`,
    filesize: 1000,
    filehash: HASH(1),
    packageTag: pkg.replace(/-/g, '_'),
    packageVersionTag: version,
    pyVersionTag: py,
    abiTag: abi,
    platformTag: platform,
    requiresPython: null,
    dependencies: { apt: [], pip: [] },
    metadataHash: null,
    ...extra,
  };
}

// Each build a second after the last, so that build times are distinct and ordered.
let clock = Date.parse('2026-01-01T00:00:00Z');
export function build(pkg: string, version: string, abiTag: string, files: BuildFileRecord[], extra: Partial<BuildRecord> = {}): BuildRecord {
  clock += 1000;
  return {
    package: pkg,
    version,
    abiTag,
    status: files.length > 0,
    duration: 10,
    slaveId: 1,
    builtAt: new Date(clock),
    files,
    ...extra,
  };
}

/** The package's versions in the build queue, by build target (targets without any left out). */
export async function queueOf(db: Database, pkg: string): Promise<Record<string, string[]>> {
  const queue = await db.getBuildQueue(100_000);
  const out: Record<string, string[]> = {};
  for (const [abi, entries] of queue) {
    const mine = entries.filter((e) => e.package === pkg).map((e) => e.version);
    if (mine.length > 0) out[abi] = mine;
  }
  return out;
}

/** A new package with these versions, released a day apart from `firstRelease`. */
export async function addVersions(db: Database, pkg: string, versions: string[], firstRelease = '2025-01-01T00:00:00Z'): Promise<void> {
  await db.addNewPackage(pkg);
  let t = Date.parse(firstRelease);
  for (const v of versions) {
    await db.addNewPackageVersion(pkg, v, new Date(t));
    t += 86_400_000;
  }
}

export async function assertConsistent(db: Database): Promise<void> {
  assert.deepEqual(await db.verifyDerived(), []);
}
