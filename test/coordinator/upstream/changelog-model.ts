// An in-memory stand-in for the versions and packages tables, with the two
// semantics the changelog tests compare: the effects the gazer emits, and the
// plain timestamp-ordered history piwheels applies after its 5-minute buffer.
import type { Effect, UpstreamEvent } from '../../../coordinator/upstream/changelog.ts';

export interface VersionRow {
  released: number;
  skip: string;
  yanked: boolean;
}

export type ModelDb = Map<string, Map<string, VersionRow>>;

export function applyEffect(db: ModelDb, effect: Effect): void {
  switch (effect.op) {
    case 'addPackage':
      if (!db.has(effect.package)) db.set(effect.package, new Map());
      return;
    case 'addVersion': {
      const versions = db.get(effect.package);
      if (versions === undefined) throw new Error(`version of missing package ${effect.package}`);
      const row = versions.get(effect.version);
      if (row === undefined) {
        versions.set(effect.version, { released: effect.released, skip: effect.source ? '' : 'binary only', yanked: false });
      } else {
        row.released = Math.min(row.released, effect.released);
        if (effect.source && row.skip === 'binary only') row.skip = '';
      }
      return;
    }
    case 'setYanked': {
      const row = db.get(effect.package)?.get(effect.version);
      if (row !== undefined && row.released <= effect.at) row.yanked = effect.yanked;
      return;
    }
    case 'deleteVersion':
      db.get(effect.package)?.delete(effect.version);
      return;
    case 'deletePackage':
      db.delete(effect.package);
      return;
  }
}

/** piwheels' semantics: every event applied in (timestamp, serial) order. */
export function applyInTimestampOrder(events: UpstreamEvent[]): ModelDb {
  const db: ModelDb = new Map();
  const sorted = [...events].sort((a, b) => a.timestamp - b.timestamp || a.serial - b.serial);
  for (const e of sorted) {
    switch (e.action) {
      case 'create':
        if (!db.has(e.package)) db.set(e.package, new Map());
        break;
      case 'source':
      case 'binary': {
        if (!db.has(e.package)) db.set(e.package, new Map());
        const versions = db.get(e.package) as Map<string, VersionRow>;
        const row = versions.get(e.version as string);
        if (row === undefined) {
          versions.set(e.version as string, { released: e.timestamp, skip: e.action === 'source' ? '' : 'binary only', yanked: false });
        } else if (e.action === 'source' && row.skip === 'binary only') {
          row.skip = '';
        }
        break;
      }
      case 'yank':
      case 'unyank': {
        const row = db.get(e.package)?.get(e.version as string);
        if (row !== undefined) row.yanked = e.action === 'yank';
        break;
      }
      case 'remove':
        if (e.version === null) db.delete(e.package);
        else db.get(e.package)?.delete(e.version);
        break;
    }
  }
  return db;
}

/** A comparable plain form of the model. */
export function snapshot(db: ModelDb): Record<string, Record<string, VersionRow>> {
  const out: Record<string, Record<string, VersionRow>> = {};
  for (const pkg of [...db.keys()].sort()) {
    const versions = db.get(pkg) as Map<string, VersionRow>;
    out[pkg] = {};
    for (const v of [...versions.keys()].sort()) out[pkg][v] = { ...(versions.get(v) as VersionRow) };
  }
  return out;
}

/** A small deterministic PRNG (mulberry32) so failures can be replayed by seed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
