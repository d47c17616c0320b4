// PyPI's changelog as it reaches the tables: the stored rows a batch of
// events is judged against, and the batch's additions and changes written in
// one transaction, the build queue following them by its own rule.
import { sql } from 'kysely';
import { chunks, transaction, type Store } from './store.ts';
import { fromDbFlag, fromDbTimestamp, toDbTimestamp } from './values.ts';

export interface VersionChange {
  package: string;
  version: string;
  /** Milliseconds since the epoch. */
  released: number;
  skip: string;
  yanked: boolean;
}

/** What a batch of changelog events adds and changes (deletions go first, through deletePackage and deleteVersion). */
export interface ChangelogChanges {
  insertPackages: ReadonlyArray<{ package: string; skip: string }>;
  insertVersions: readonly VersionChange[];
  /** Stored versions whose released, skip or yank changed. */
  updateVersions: readonly VersionChange[];
  /** Stored versions whose skip was lifted. */
  enabled: ReadonlyArray<{ package: string; version: string }>;
  /** Name spellings with when last seen (ms). */
  names: ReadonlyArray<{ package: string; name: string; seen: number }>;
}

export interface StoredReleases {
  packages: Array<{ package: string; skip: string }>;
  versions: Array<{ package: string; version: string; released: Date; skip: string; yanked: boolean }>;
}

// Rows per multi-row statement: a catch-up batch adds tens of thousands.
const ROWS = 1000;

/** The stored packages among these, with all their versions. */
export async function getStoredReleases(store: Store, packages: Iterable<string>): Promise<StoredReleases> {
  const db = store.conn.kysely;
  const out: StoredReleases = { packages: [], versions: [] };
  for (const part of chunks([...packages])) {
    out.packages.push(...(await db.selectFrom('packages').select(['package', 'skip']).where('package', 'in', part).execute()));
    const versions = await db
      .selectFrom('versions')
      .select(['package', 'version', 'released', 'skip', 'yanked'])
      .where('package', 'in', part)
      .execute();
    for (const row of versions) {
      out.versions.push({ package: row.package, version: row.version, released: fromDbTimestamp(row.released), skip: row.skip, yanked: fromDbFlag(row.yanked) });
    }
  }
  return out;
}

/**
 * Writes a batch's additions and changes in one transaction: packages and
 * versions (already known ones left alone), changed versions, name
 * spellings (keeping the latest sighting), and the build queue for the new
 * and re-enabled versions.
 */
export async function applyChangelog(store: Store, changes: ChangelogChanges): Promise<void> {
  await transaction(store, async (db) => {
    for (const part of chunks(changes.insertPackages, ROWS)) {
      await db
        .insertInto('packages')
        .values(part.map((p) => ({ package: p.package, skip: p.skip, description: '' })))
        .onConflict((oc) => oc.column('package').doNothing())
        .execute();
    }
    for (const part of chunks(changes.insertVersions, ROWS)) {
      await db
        .insertInto('versions')
        .values(part.map((v) => ({ package: v.package, version: v.version, released: toDbTimestamp(new Date(v.released)), skip: v.skip, yanked: v.yanked ? 1 : 0 })))
        .onConflict((oc) => oc.columns(['package', 'version']).doNothing())
        .execute();
    }
    for (const v of changes.updateVersions) {
      await db
        .updateTable('versions')
        .set({ released: toDbTimestamp(new Date(v.released)), skip: v.skip, yanked: v.yanked ? 1 : 0 })
        .where('package', '=', v.package)
        .where('version', '=', v.version)
        .execute();
    }
    for (const part of chunks(changes.names, ROWS)) {
      await db
        .insertInto('package_names')
        .values(part.map((n) => ({ package: n.package, name: n.name, seen: toDbTimestamp(new Date(n.seen)) })))
        .onConflict((oc) =>
          oc.column('name').doUpdateSet({
            seen: sql<string>`CASE WHEN excluded.seen > package_names.seen THEN excluded.seen ELSE package_names.seen END`,
          }),
        )
        .execute();
    }
    const queueable = [...changes.insertVersions.filter((v) => v.skip === ''), ...changes.enabled];
    await store.derived.refreshQueueFor(db, queueable.map((v): [string, string] => [v.package, v.version]));
  });
}
