// What upstream serves of each release: its wheels as its JSON API last
// described them (and when it was asked), and the releases a target need not
// build because an upstream wheel installs there. The clashes a build ran
// into are written with the build (builds.ts); project-data.ts reads all of
// it for the pages.
import { UpstreamFileRecordSchema, type UpstreamFileRecord } from './records.ts';
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
