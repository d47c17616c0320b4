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

/** A change of the build targets: ABIs and platforms added (or re-activated), then retired. */
export interface TargetChange {
  addAbis?: readonly string[];
  skipAbis?: readonly string[];
  addPlatforms?: readonly string[];
  skipPlatforms?: readonly string[];
  /** Why the retired ones go. */
  reason?: string;
}

/**
 * Applies a change of the build targets in one transaction, additions
 * first, and recomputes the queue once: on a big farm each recomputation is
 * a pass over every version. A retired ABI or platform keeps its builds; the
 * last active platform cannot go, since the farm would silently turn to
 * building for any platform.
 */
export async function changeBuildTargets(store: Store, change: TargetChange): Promise<void> {
  const reason = change.reason ?? 'retired';
  if (reason === '') throw new UserError('retiring an ABI or a platform needs a reason');
  for (const abi of change.addAbis ?? []) checkAbiTag(abi);
  for (const platform of change.addPlatforms ?? []) checkPlatformTag(platform);
  await transaction(store, async (db) => {
    for (const abi of change.addAbis ?? []) {
      await db
        .insertInto('build_abis')
        .values({ abi_tag: abi, skip: '' })
        .onConflict((oc) => oc.column('abi_tag').doUpdateSet({ skip: '' }))
        .execute();
    }
    for (const platform of change.addPlatforms ?? []) {
      await db
        .insertInto('build_platforms')
        .values({ platform_tag: platform, skip: '' })
        .onConflict((oc) => oc.column('platform_tag').doUpdateSet({ skip: '' }))
        .execute();
    }
    for (const abi of change.skipAbis ?? []) {
      const result = await db.updateTable('build_abis').set({ skip: reason }).where('abi_tag', '=', abi).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) throw new UserError(`no build ABI ${JSON.stringify(abi)}`);
    }
    for (const platform of change.skipPlatforms ?? []) {
      const rows = await db.selectFrom('build_platforms').select(['platform_tag', 'skip']).execute();
      const row = rows.find((r) => r.platform_tag === platform);
      if (row === undefined) throw new UserError(`no build platform ${JSON.stringify(platform)}`);
      if (row.skip !== '') continue;
      if (!rows.some((r) => r.platform_tag !== platform && r.skip === '')) {
        throw new UserError(`${platform} is the last active build platform: add another with --platform before retiring it`);
      }
      await db.updateTable('build_platforms').set({ skip: reason }).where('platform_tag', '=', platform).execute();
    }
    await store.derived.rebuildQueue(db);
  });
}

/** Adds a build ABI, or re-activates a retired one; the queue is recomputed. */
export function addBuildAbi(store: Store, abi: string): Promise<void> {
  return changeBuildTargets(store, { addAbis: [abi] });
}

/** Retires a build ABI (its builds stay); the queue is recomputed. */
export function skipBuildAbi(store: Store, abi: string, reason: string): Promise<void> {
  return changeBuildTargets(store, { skipAbis: [abi], reason });
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
export function addBuildPlatform(store: Store, platform: string): Promise<void> {
  return changeBuildTargets(store, { addPlatforms: [platform] });
}

/** Retires a build platform (its builds stay), never the last active one; the queue is recomputed. */
export function skipBuildPlatform(store: Store, platform: string, reason: string): Promise<void> {
  return changeBuildTargets(store, { skipPlatforms: [platform], reason });
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
