// What upstream serves of each release: its wheels as its JSON API last
// described them (and when it was asked), and the releases a target need not
// build because an upstream wheel installs there. The clashes a build ran
// into are written with the build (builds.ts); project-data.ts reads all of
// it for the pages.
import { UpstreamFileRecordSchema, WithheldFileRecordSchema, type UpstreamFileRecord, type WithheldFileRecord } from './records.ts';
import { transaction, type Store } from './store.ts';
import { fromDbTimestamp, toDbTimestamp } from './values.ts';

/** A release's upstream wheels and when upstream was asked; null when it never was. */
export interface UpstreamRelease {
  checkedAt: Date;
  files: UpstreamFileRecord[];
}

/**
 * Replaces what is known of a release's upstream wheels with this answer.
 * False (nothing stored) when the release is not (or no longer) stored.
 */
export async function recordUpstreamFiles(
  store: Store,
  pkg: string,
  version: string,
  files: readonly UpstreamFileRecord[],
  checkedAt: Date,
): Promise<boolean> {
  const checked = files.map((f) => UpstreamFileRecordSchema.parse(f));
  return transaction(store, async (db) => {
    const known = await db.selectFrom('versions').select('version').where('package', '=', pkg).where('version', '=', version).executeTakeFirst();
    if (known === undefined) return false;
    await db.deleteFrom('upstream_files').where('package', '=', pkg).where('version', '=', version).execute();
    // A name upstream moved to another release of the package is that release's now.
    if (checked.length > 0) {
      await db.deleteFrom('upstream_files').where('package', '=', pkg).where('filename', 'in', checked.map((f) => f.filename)).execute();
    }
    await db.deleteFrom('upstream_releases').where('package', '=', pkg).where('version', '=', version).execute();
    await db.insertInto('upstream_releases').values({ package: pkg, version, checked_at: toDbTimestamp(checkedAt) }).execute();
    if (checked.length > 0) {
      await db
        .insertInto('upstream_files')
        .values(
          checked.map((f) => ({
            package: pkg,
            version,
            filename: f.filename,
            filehash: f.filehash,
            requires_python: f.requiresPython,
            uploaded_at: toDbTimestamp(f.uploadedAt),
          })),
        )
        .execute();
    }
    return true;
  });
}

/** Whether the release is stored and neither it nor its package is skipped: one the farm builds. */
export async function isBuildable(store: Store, pkg: string, version: string): Promise<boolean> {
  const row = await store.conn.kysely
    .selectFrom('versions as v')
    .innerJoin('packages as p', 'p.package', 'v.package')
    .select('v.version')
    .where('v.package', '=', pkg)
    .where('v.version', '=', version)
    .where('v.skip', '=', '')
    .where('p.skip', '=', '')
    .executeTakeFirst();
  return row !== undefined;
}

/** What is known of a release's upstream wheels, or null when upstream was never asked. */
export async function getUpstreamFiles(store: Store, pkg: string, version: string): Promise<UpstreamRelease | null> {
  const db = store.conn.kysely;
  const release = await db
    .selectFrom('upstream_releases')
    .select('checked_at')
    .where('package', '=', pkg)
    .where('version', '=', version)
    .executeTakeFirst();
  if (release === undefined) return null;
  const rows = await db
    .selectFrom('upstream_files')
    .select(['filename', 'filehash', 'requires_python', 'uploaded_at'])
    .where('package', '=', pkg)
    .where('version', '=', version)
    .orderBy('filename')
    .execute();
  return {
    checkedAt: fromDbTimestamp(release.checked_at),
    files: rows.map((r) => ({
      filename: r.filename,
      filehash: r.filehash.trim(),
      requiresPython: r.requires_python,
      uploadedAt: fromDbTimestamp(r.uploaded_at),
    })),
  };
}

/** One target a release is served on by an upstream wheel. */
export interface ServedTarget {
  abiTag: string;
  platformTag: string;
  /** The upstream wheel that installs there. */
  filename: string;
}

/**
 * Records that a release need not be built for a target: upstream's wheel
 * `filename` installs there. False when the release is not stored.
 */
export async function recordServedByUpstream(store: Store, pkg: string, version: string, served: ServedTarget): Promise<boolean> {
  return transaction(store, async (db) => {
    const known = await db.selectFrom('versions').select('version').where('package', '=', pkg).where('version', '=', version).executeTakeFirst();
    if (known === undefined) return false;
    await db
      .deleteFrom('upstream_served')
      .where('package', '=', pkg)
      .where('version', '=', version)
      .where('abi_tag', '=', served.abiTag)
      .where('platform_tag', '=', served.platformTag)
      .execute();
    await db
      .insertInto('upstream_served')
      .values({ package: pkg, version, abi_tag: served.abiTag, platform_tag: served.platformTag, filename: served.filename })
      .execute();
    return true;
  });
}

/** A file of ours published for a release, and the build that made it. */
export interface PublishedFile {
  buildId: number;
  filename: string;
  filehash: string;
}

/** The files of ours stored for a release. */
export async function getPublishedFiles(store: Store, pkg: string, version: string): Promise<PublishedFile[]> {
  const rows = await store.conn.kysely
    .selectFrom('files as f')
    .innerJoin('builds as b', 'b.build_id', 'f.build_id')
    .select(['b.build_id', 'f.filename', 'f.filehash'])
    .where('b.package', '=', pkg)
    .where('b.version', '=', version)
    .orderBy('f.filename')
    .execute();
  return rows.map((r) => ({ buildId: Number(r.build_id), filename: r.filename, filehash: r.filehash.trim() }));
}

/**
 * Withdraws published files of a release that turned out to clash with
 * upstream's (uploaded there after we published): each leaves the files
 * table (its dependencies with it) and is recorded withheld by its build,
 * with the counters and the queue following. Returns the filenames
 * withdrawn (those still stored).
 */
export async function withdrawFiles(
  store: Store,
  pkg: string,
  version: string,
  files: ReadonlyArray<WithheldFileRecord & { buildId: number }>,
): Promise<string[]> {
  const checked = files.map((f) => ({ ...WithheldFileRecordSchema.parse(f), buildId: f.buildId }));
  if (checked.length === 0) return [];
  return transaction(store, async (db) => {
    const stored = await db
      .selectFrom('files as f')
      .innerJoin('builds as b', 'b.build_id', 'f.build_id')
      .select(['f.filename', 'f.build_id', 'f.filesize', 'f.platform_tag', 'f.package_tag'])
      .where('b.package', '=', pkg)
      .where('b.version', '=', version)
      .where('f.filename', 'in', checked.map((f) => f.filename))
      .execute();
    if (stored.length === 0) return [];
    const names = stored.map((f) => f.filename);
    await store.derived.filesChanged(
      db,
      stored.map((f) => ({ filename: f.filename, filesize: Number(f.filesize), platformTag: f.platform_tag, packageTag: f.package_tag, package: pkg })),
      -1,
    );
    await db.deleteFrom('files').where('filename', 'in', names).execute();
    const byName = new Map(checked.map((f) => [f.filename, f]));
    await db
      .insertInto('upstream_clashes')
      .values(
        stored.map((f) => {
          const w = byName.get(f.filename) as WithheldFileRecord;
          return { build_id: Number(f.build_id), filename: f.filename, filehash: w.filehash, upstream_filehash: w.upstreamFilehash };
        }),
      )
      .execute();
    await store.derived.refreshQueueFor(db, [[pkg, version]]);
    return names;
  });
}
