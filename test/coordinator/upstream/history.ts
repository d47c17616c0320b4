// The scripted upstream history the gazer tests replay, and the database
// state it must end in, worked out by hand from the timestamps.
import type { Kysely } from 'kysely';
import type { Tables } from '../../../shared/db/schema.ts';
import { fromDbFlag, fromDbTimestamp } from '../../../shared/db/values.ts';
import type { UpstreamServer } from '../../../upstream/server.ts';

export const T = 1_700_000_000;

export function scriptHistory(up: UpstreamServer): void {
  up.create('Alpha', { summary: 'Alpha summary', timestamp: T });
  up.upload('Alpha', '1.0', { filename: 'alpha-1.0.tar.gz', timestamp: T + 10 });
  // Binary only at first; its sdist comes later.
  up.upload('Alpha', '1.1', { filename: 'alpha-1.1-py3-none-any.whl', timestamp: T + 20 });
  up.upload('beta', '2.0', { summary: 'Beta', timestamp: T + 40 });
  // The yank is stamped later than the unyank that arrives after it: the yank wins.
  up.yank('beta', '2.0', { timestamp: T + 50 });
  up.unyank('beta', '2.0', { timestamp: T + 45 });
  up.upload('Alpha', '1.1', { filename: 'alpha-1.1.tar.gz', timestamp: T + 60 });
  // gamma: created, removed, created again with another version.
  up.upload('gamma', '0.1', { timestamp: T + 71 });
  up.remove('gamma', undefined, { timestamp: T + 80 });
  up.upload('gamma', '0.2', { timestamp: T + 91 });
  // delta: a removal stamped before the upload it follows does not remove it.
  up.upload('delta', '1.0', { timestamp: T + 100 });
  up.remove('delta', '1.0', { timestamp: T + 95 });
  // epsilon: an upload stamped before the removal it follows stays removed.
  up.upload('epsilon', '1.0', { timestamp: T + 120 });
  up.remove('epsilon', '1.0', { timestamp: T + 130 });
  up.event('epsilon', '1.0', 'add py3 file epsilon-1.0-py3-none-any.whl', T + 125);
  // A yank and unyank in order: not yanked.
  up.yank('Alpha', '1.0', { timestamp: T + 140 });
  up.unyank('Alpha', '1.0', { timestamp: T + 150 });
  // Events the farm does not follow.
  up.event('Alpha', null, 'add Owner someone', T + 160);
  up.event('Alpha', '1.0', 'remove file alpha-1.0.tar.gz', T + 161);
}

const at = (seconds: number): string => new Date(seconds * 1000).toISOString();

export const EXPECTED = {
  packages: [
    { package: 'alpha', skip: '' },
    { package: 'beta', skip: '' },
    { package: 'delta', skip: '' },
    { package: 'epsilon', skip: '' },
    { package: 'gamma', skip: '' },
  ],
  versions: [
    { package: 'alpha', version: '1.0', released: at(T + 10), skip: '', yanked: false },
    { package: 'alpha', version: '1.1', released: at(T + 20), skip: '', yanked: false },
    { package: 'beta', version: '2.0', released: at(T + 40), skip: '', yanked: true },
    { package: 'delta', version: '1.0', released: at(T + 100), skip: '', yanked: false },
    { package: 'gamma', version: '0.2', released: at(T + 91), skip: '', yanked: false },
  ],
  names: [
    { package: 'alpha', name: 'Alpha' },
    { package: 'alpha', name: 'alpha' },
    { package: 'beta', name: 'beta' },
    { package: 'delta', name: 'delta' },
    { package: 'epsilon', name: 'epsilon' },
    { package: 'gamma', name: 'gamma' },
  ],
  queue: ['alpha 1.0', 'alpha 1.1', 'beta 2.0', 'delta 1.0', 'gamma 0.2'],
};

export async function readState(k: Kysely<Tables>): Promise<typeof EXPECTED> {
  const packages = await k.selectFrom('packages').select(['package', 'skip']).orderBy('package').execute();
  const versions = await k
    .selectFrom('versions')
    .select(['package', 'version', 'released', 'skip', 'yanked'])
    .orderBy('package')
    .orderBy('version')
    .execute();
  const names = await k.selectFrom('package_names').select(['package', 'name']).orderBy('package').orderBy('name').execute();
  const queue = await k.selectFrom('build_queue').select(['package', 'version']).orderBy('package').orderBy('version').execute();
  return {
    packages,
    versions: versions.map((v) => ({
      package: v.package,
      version: v.version,
      released: fromDbTimestamp(v.released).toISOString(),
      skip: v.skip,
      yanked: fromDbFlag(v.yanked),
    })),
    names,
    queue: queue.map((q) => `${q.package} ${q.version}`),
  };
}
