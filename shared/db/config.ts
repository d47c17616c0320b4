// The farm's settings in the database: the build ABIs and platforms, whose
// pairs are the build targets (the build queue is recomputed whenever they
// change), and the last PyPI serial followed.
import { UserError } from '../cli.ts';
import { checkAbiTag, checkPlatformTag, type BuildTarget } from '../target.ts';
import { compareAbis } from './abi.ts';
import { transaction, type Store } from './store.ts';

/** Build ABIs in ABI order; only the active ones when excludeSkipped. */
export async function getBuildAbis(store: Store, excludeSkipped = false): Promise<string[]> {
  let query = store.conn.kysely.selectFrom('build_abis').select('abi_tag');
  if (excludeSkipped) query = query.where('skip', '=', '');
  return (await query.execute()).map((r) => r.abi_tag).sort(compareAbis);
}

/** Adds a build ABI, or re-activates a retired one; the queue is recomputed. */
export async function addBuildAbi(store: Store, abi: string): Promise<void> {
  checkAbiTag(abi);
  await transaction(store, async (db) => {
    await db
      .insertInto('build_abis')
      .values({ abi_tag: abi, skip: '' })
      .onConflict((oc) => oc.column('abi_tag').doUpdateSet({ skip: '' }))
      .execute();
    await store.derived.rebuildQueue(db);
  });
}

/** Retires a build ABI (its builds stay); the queue is recomputed. */
export async function skipBuildAbi(store: Store, abi: string, reason: string): Promise<void> {
  if (reason === '') throw new UserError('retiring an ABI needs a reason');
  await transaction(store, async (db) => {
    const result = await db.updateTable('build_abis').set({ skip: reason }).where('abi_tag', '=', abi).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new UserError(`no build ABI ${JSON.stringify(abi)}`);
    await store.derived.rebuildQueue(db);
  });
}

/** Build platforms in name order; only the active ones when excludeSkipped. */
export async function getBuildPlatforms(store: Store, excludeSkipped = false): Promise<string[]> {
  let query = store.conn.kysely.selectFrom('build_platforms').select('platform_tag');
  if (excludeSkipped) query = query.where('skip', '=', '');
  return (await query.orderBy('platform_tag').execute()).map((r) => r.platform_tag);
}

/** The active build targets: ABIs in ABI order, each on every active platform (or any platform when none is). */
export function getBuildTargets(store: Store): Promise<BuildTarget[]> {
  return store.derived.targets(store.conn.kysely);
}

/** Adds a build platform, or re-activates a retired one; the queue is recomputed. */
export async function addBuildPlatform(store: Store, platform: string): Promise<void> {
  checkPlatformTag(platform);
  await transaction(store, async (db) => {
    await db
      .insertInto('build_platforms')
      .values({ platform_tag: platform, skip: '' })
      .onConflict((oc) => oc.column('platform_tag').doUpdateSet({ skip: '' }))
      .execute();
    await store.derived.rebuildQueue(db);
  });
}

/**
 * Retires a build platform (its builds stay); the queue is recomputed. The
 * last active platform cannot go: the farm would silently turn to building
 * for any platform.
 */
export async function skipBuildPlatform(store: Store, platform: string, reason: string): Promise<void> {
  if (reason === '') throw new UserError('retiring a platform needs a reason');
  await transaction(store, async (db) => {
    const rows = await db.selectFrom('build_platforms').select(['platform_tag', 'skip']).execute();
    const row = rows.find((r) => r.platform_tag === platform);
    if (row === undefined) throw new UserError(`no build platform ${JSON.stringify(platform)}`);
    if (row.skip !== '') return;
    if (!rows.some((r) => r.platform_tag !== platform && r.skip === '')) {
      throw new UserError(`${platform} is the last active build platform: add another with --platform before retiring it`);
    }
    await db.updateTable('build_platforms').set({ skip: reason }).where('platform_tag', '=', platform).execute();
    await store.derived.rebuildQueue(db);
  });
}

export async function getPypiSerial(store: Store): Promise<number> {
  const row = await store.conn.kysely.selectFrom('configuration').select('pypi_serial').where('id', '=', 1).executeTakeFirst();
  return Number(row?.pypi_serial ?? 0);
}

/** Records the last PyPI event seen; refuses to go backwards. */
export async function setPypiSerial(store: Store, serial: number): Promise<void> {
  if (!Number.isSafeInteger(serial) || serial < 0) throw new RangeError(`invalid PyPI serial: ${serial}`);
  const result = await store.conn.kysely
    .updateTable('configuration')
    .set({ pypi_serial: serial })
    .where('id', '=', 1)
    .where('pypi_serial', '<=', serial)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) {
    throw new RangeError(`PyPI serial cannot go backwards (to ${serial} from ${await getPypiSerial(store)})`);
  }
}
