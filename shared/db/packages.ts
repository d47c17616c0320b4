// Packages, their versions and the spellings of their names: adding,
// skipping, yanking and deleting them, with the build queue following every
// change that decides what needs building.
import { forgetBuilds } from './builds.ts';
import { chunks, clip, transaction, type Store } from './store.ts';
import { toDbTimestamp } from './values.ts';

const EPOCH = new Date(0);

/** Inserts a package; false (not an error) when it is already known. */
export async function addNewPackage(store: Store, pkg: string, skip = '', description = ''): Promise<boolean> {
  const result = await store.conn.kysely
    .insertInto('packages')
    .values({ package: pkg, skip, description: clip(description, 200) ?? '' })
    .onConflict((oc) => oc.column('package').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Inserts a version (released defaults to now); false when it is already known. */
export async function addNewPackageVersion(store: Store, pkg: string, version: string, released?: Date, skip = ''): Promise<boolean> {
  return transaction(store, async (db) => {
    const result = await db
      .insertInto('versions')
      .values({ package: pkg, version, released: toDbTimestamp(released ?? new Date()), skip, yanked: 0 })
      .onConflict((oc) => oc.columns(['package', 'version']).doNothing())
      .executeTakeFirst();
    const added = Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    if (added) await store.derived.refreshQueue(db, pkg, [version]);
    return added;
  });
}

/** Records a spelling of a package's name, or when it was last seen. */
export async function addPackageName(store: Store, pkg: string, name: string, seen: Date = EPOCH): Promise<void> {
  await store.conn.kysely
    .insertInto('package_names')
    .values({ package: pkg, name, seen: toDbTimestamp(seen) })
    .onConflict((oc) => oc.column('name').doUpdateSet({ seen: toDbTimestamp(seen) }))
    .execute();
}

/** Every known spelling of the package's name other than the canonical one. */
export async function getPackageAliases(store: Store, pkg: string): Promise<string[]> {
  const rows = await store.conn.kysely
    .selectFrom('package_names')
    .select('name')
    .where('package', '=', pkg)
    .where('name', '!=', pkg)
    .orderBy('name')
    .execute();
  return rows.map((r) => r.name);
}

/** Every known spelling of every package's name. */
export async function getAllPackageNames(store: Store): Promise<Set<string>> {
  const rows = await store.conn.kysely.selectFrom('package_names').select('name').execute();
  return new Set(rows.map((r) => r.name));
}

/** The package's description, or null for an unknown package. */
export async function getPackageDescription(store: Store, pkg: string): Promise<string | null> {
  const row = await store.conn.kysely.selectFrom('packages').select('description').where('package', '=', pkg).executeTakeFirst();
  return row?.description ?? null;
}

/** Of the given packages, those stored without a description. */
export async function getUndescribedPackages(store: Store, packages: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const part of chunks(packages)) {
    const rows = await store.conn.kysely
      .selectFrom('packages')
      .select('package')
      .where('package', 'in', part)
      .where('description', '=', '')
      .execute();
    out.push(...rows.map((r) => r.package));
  }
  return out;
}

export async function setPackageDescription(store: Store, pkg: string, description: string): Promise<void> {
  await store.conn.kysely
    .updateTable('packages')
    .set({ description: clip(description, 200) ?? '' })
    .where('package', '=', pkg)
    .execute();
}

/** Packages whose skip reason is one of `reasons` ('' for those not skipped), with it. */
export async function getPackagesSkipped(store: Store, reasons: readonly string[]): Promise<Array<{ package: string; skip: string }>> {
  return store.conn.kysely.selectFrom('packages').select(['package', 'skip']).where('skip', 'in', reasons).execute();
}

/** Skips every version of a package, now and to come ('' un-skips). */
export async function skipPackage(store: Store, pkg: string, reason: string): Promise<void> {
  await transaction(store, async (db) => {
    await db.updateTable('packages').set({ skip: reason }).where('package', '=', pkg).execute();
    await store.derived.refreshQueue(db, pkg);
  });
}

/** Skips one version ('' un-skips). */
export async function skipPackageVersion(store: Store, pkg: string, version: string, reason: string): Promise<void> {
  await transaction(store, async (db) => {
    await db.updateTable('versions').set({ skip: reason }).where('package', '=', pkg).where('version', '=', version).execute();
    await store.derived.refreshQueue(db, pkg, [version]);
  });
}

/** Removes a package with its versions, builds, files and dependencies. */
export async function deletePackage(store: Store, pkg: string): Promise<void> {
  await transaction(store, async (db) => {
    await forgetBuilds(store, db, pkg);
    await db.deleteFrom('packages').where('package', '=', pkg).execute();
    await store.derived.refreshQueue(db, pkg);
  });
}

/** Removes a version with its builds, files and dependencies. */
export async function deleteVersion(store: Store, pkg: string, version: string): Promise<void> {
  await transaction(store, async (db) => {
    await forgetBuilds(store, db, pkg, version);
    await db.deleteFrom('versions').where('package', '=', pkg).where('version', '=', version).execute();
    await store.derived.refreshQueue(db, pkg, [version]);
  });
}

export async function setVersionYanked(store: Store, pkg: string, version: string, yanked: boolean): Promise<void> {
  await store.conn.kysely
    .updateTable('versions')
    .set({ yanked: yanked ? 1 : 0 })
    .where('package', '=', pkg)
    .where('version', '=', version)
    .execute();
}

/** Whether the package is known, skipped or not. */
export async function testPackage(store: Store, pkg: string): Promise<boolean> {
  const row = await store.conn.kysely.selectFrom('packages').select('package').where('package', '=', pkg).executeTakeFirst();
  return row !== undefined;
}

export async function testPackageVersion(store: Store, pkg: string, version: string): Promise<boolean> {
  const row = await store.conn.kysely
    .selectFrom('versions')
    .select('version')
    .where('package', '=', pkg)
    .where('version', '=', version)
    .executeTakeFirst();
  return row !== undefined;
}

export async function getAllPackages(store: Store): Promise<Set<string>> {
  const rows = await store.conn.kysely.selectFrom('packages').select('package').execute();
  return new Set(rows.map((r) => r.package));
}

/** Every known version, by package. */
export async function getAllPackageVersions(store: Store): Promise<Map<string, Set<string>>> {
  const rows = await store.conn.kysely.selectFrom('versions').select(['package', 'version']).execute();
  const out = new Map<string, Set<string>>();
  for (const row of rows) {
    let versions = out.get(row.package);
    if (!versions) out.set(row.package, (versions = new Set()));
    versions.add(row.version);
  }
  return out;
}
