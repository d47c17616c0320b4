// A small farm's worth of project data for the site tests: several versions
// (a pre-release, a yanked one, a skipped one), two ABIs with mixed outcomes,
// an alias, and a platform wheel that needs Debian packages.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FarmStatistics, FileInfo, ProjectData, SearchEntry } from '../../shared/model.ts';
import type { RegenerateDatabase } from '../../coordinator/pages/regenerate.ts';

const HASH = (c: string): string => c.repeat(64).slice(0, 64);

function file(filename: string, extra: Partial<FileInfo> = {}): FileInfo {
  return {
    filename,
    hash: HASH('a'),
    size: 8473,
    abiBuilder: 'cp311',
    abiFile: 'cp311',
    platform: 'linux_armv7l',
    requiresPython: '>=3.7',
    aptDependencies: [],
    pipDependencies: [],
    metadataHash: null,
    builtAt: new Date('2026-11-20T10:00:00Z'),
    buildId: 1,
    ...extra,
  };
}

export function sampleProject(): ProjectData {
  return {
    package: 'sample-pkg',
    name: 'Sample_Pkg',
    description: 'Reads <sensor> data & more',
    skip: '',
    aliases: ['Sample_Pkg', 'sample.pkg'],
    downloadsRecent: 1234,
    downloadsAll: 98765,
    builds: {
      13: {
        failure: { kind: 'package', attempt: 1, retryAt: null, missing: { kind: 'header', name: 'zstd.h' }, debianPackage: 'libzstd-dev' },
        environment: {
          os: 'Raspbian GNU/Linux 11 (bullseye)',
          python: '3.11.2',
          pip: '23.0.1',
          setuptools: '66.1.1',
          wheel: '0.38.4',
          dpkgDigest: `sha256:${'c'.repeat(64)}`,
          reproduce: "env LC_ALL=C.UTF-8 python3 -m pip wheel 'sample-pkg==1.0' --no-deps",
        },
      },
    },
    releases: [
      {
        version: '2.0rc1',
        released: new Date('2026-11-21T08:00:00Z'),
        prerelease: true,
        yanked: false,
        skip: '',
        abis: { cp39: { status: 'pending', buildId: null }, cp311: { status: 'success', buildId: 123456 } },
        files: {
          'sample_pkg-2.0rc1-py3-none-any.whl': file('sample_pkg-2.0rc1-py3-none-any.whl', {
            hash: HASH('b'),
            abiFile: 'none',
            platform: 'any',
            requiresPython: '>=3.9',
            buildId: 123456,
            metadataHash: HASH('c'),
          }),
        },
        attempts: [],
        withheld: [],
        servedUpstream: [],
      },
      {
        version: '1.1',
        released: new Date('2026-11-10T12:30:45Z'),
        prerelease: false,
        yanked: true,
        skip: '',
        abis: { cp39: { status: 'success', buildId: 77 }, cp311: { status: 'success', buildId: 78 } },
        files: {
          'sample_pkg-1.1-cp311-cp311-linux_armv7l.whl': file('sample_pkg-1.1-cp311-cp311-linux_armv7l.whl', { hash: HASH('d'), buildId: 78 }),
        },
        attempts: [],
        withheld: [],
        servedUpstream: [],
      },
      {
        version: '1.0',
        released: new Date('2026-10-01T00:00:00Z'),
        prerelease: false,
        yanked: false,
        skip: '',
        abis: { cp39: { status: 'success', buildId: 12 }, cp311: { status: 'fail', buildId: 13 } },
        files: {
          'sample_pkg-1.0-cp39-cp39-linux_armv7l.whl': file('sample_pkg-1.0-cp39-cp39-linux_armv7l.whl', {
            hash: HASH('e'),
            size: 1_572_864,
            abiBuilder: 'cp39',
            abiFile: 'cp39',
            aptDependencies: ['libopenjp2-7', 'libatlas3-base'],
            pipDependencies: ['numpy'],
            buildId: 12,
          }),
        },
        attempts: [],
        withheld: [],
        servedUpstream: [],
      },
      {
        version: '0.9',
        released: new Date('2026-09-01T00:00:00Z'),
        prerelease: false,
        yanked: false,
        skip: 'binary only',
        abis: { cp39: { status: 'skip', buildId: null }, cp311: { status: 'skip', buildId: null } },
        files: {},
        attempts: [],
        withheld: [],
        servedUpstream: [],
      },
    ],
  };
}

export function otherProject(name: string, description = `The ${name} package`): ProjectData {
  return {
    package: name,
    name,
    description,
    skip: '',
    aliases: [],
    downloadsRecent: 5,
    downloadsAll: 50,
    builds: {},
    releases: [
      {
        version: '0.1',
        released: new Date('2026-01-01T00:00:00Z'),
        prerelease: false,
        yanked: false,
        skip: '',
        abis: { cp311: { status: 'success', buildId: 5 } },
        files: { [`${name.replace(/-/g, '_')}-0.1-py3-none-any.whl`]: file(`${name.replace(/-/g, '_')}-0.1-py3-none-any.whl`, { abiFile: 'none', platform: 'any' }) },
        attempts: [],
        withheld: [],
        servedUpstream: [],
      },
    ],
  };
}

export const sampleStats: FarmStatistics = {
  packagesBuilt: 2,
  buildsTime: 400_000,
  buildsSize: 10_000_000,
  filesCount: 4,
  newLastHour: 1,
  buildsLastHour: { cp39: 3, cp311: 7 },
  buildsPending: { cp39: 10, cp311: 0 },
  downloadsLastHour: 9,
  downloadsLastMonth: 1239,
  downloadsAll: 98815,
};

/** An in-memory stand-in for the database with the same async interface. */
export class FixtureDatabase implements RegenerateDatabase {
  readonly projects = new Map<string, ProjectData>();

  constructor(projects: ProjectData[]) {
    for (const p of projects) this.projects.set(p.package, p);
  }

  async getProjectData(pkg: string): Promise<ProjectData | null> {
    return this.projects.get(pkg) ?? null;
  }

  async getAllPackages(): Promise<string[]> {
    return [...this.projects.keys()];
  }

  async getPackagesWithFiles(): Promise<string[]> {
    return [...this.projects.values()].filter((p) => p.releases.some((r) => Object.keys(r.files).length > 0)).map((p) => p.package);
  }

  async getPackageAliases(pkg: string): Promise<string[]> {
    return this.projects.get(pkg)?.aliases ?? [];
  }

  async getStatistics(): Promise<FarmStatistics> {
    return sampleStats;
  }

  async getSearchIndex(): Promise<SearchEntry[]> {
    return [...this.projects.values()].map((p) => ({
      package: p.package,
      description: p.description,
      downloadsRecent: p.downloadsRecent,
      downloadsAll: p.downloadsAll,
    }));
  }
}

export async function tempDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `piw-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}
