// Failure triage in the database: the kind and retry time of failed builds,
// the environment of every build, and the attempts of builds tried again.
// A due retry moves the failed build into build_attempts and deletes its
// row; the version then goes back in the queue by the queue's own rule
// (refreshQueue), which this module never second-guesses.
import type { BuildEnvironment } from '../build-log.ts';
import { countsAgainstPackage, FailureKindSchema, MissingDependencySchema, type FailureKind, type RetrySchedule } from '../failure.ts';
import type { AttemptInfo, FailureInfo } from '../model.ts';
import type { BuildRecordSchema } from './records.ts';
import { transaction, type Db, type Store } from './store.ts';
import { fromDbTimestamp, toDbTimestamp } from './values.ts';
import type { z } from 'zod';

export type { AttemptInfo, FailureInfo } from '../model.ts';

type StoredBuild = z.output<typeof BuildRecordSchema>;

/** A build re-queued by retryDueBuilds. */
export interface Retried {
  package: string;
  version: string;
  abi: string;
  /** The failed build's id (its log stays under it). */
  buildId: number;
  kind: FailureKind;
}

/** The earlier attempts of a version on an ABI: all of them, and those that count against the package. */
async function attemptsBefore(db: Db, pkg: string, version: string, abi: string): Promise<{ all: number; counted: number }> {
  const rows = await db
    .selectFrom('build_attempts')
    .select('kind')
    .where('package', '=', pkg)
    .where('version', '=', version)
    .where('abi_tag', '=', abi)
    .execute();
  const kinds = rows.map((r) => FailureKindSchema.catch('package').parse(r.kind));
  return { all: kinds.length, counted: kinds.filter(countsAgainstPackage).length };
}

/** Stores the triage and environment of builds just inserted (inside logBuilds' transaction). */
export async function recordTriage(db: Db, builds: readonly StoredBuild[], ids: readonly number[], schedule: RetrySchedule | null): Promise<void> {
  const environments = builds.flatMap((b, i) => (b.environment === null ? [] : [environmentRow(ids[i]!, b.environment)]));
  if (environments.length > 0) await db.insertInto('build_environments').values(environments).execute();
  for (const [i, build] of builds.entries()) {
    if (build.status || build.failure === null) continue;
    const before = await attemptsBefore(db, build.package, build.version, build.abiTag);
    const retryAt = schedule?.({ kind: build.failure.kind, countedBefore: before.counted, attemptsBefore: before.all, failedAt: build.builtAt }) ?? null;
    await db
      .insertInto('build_failures')
      .values({
        build_id: ids[i]!,
        kind: build.failure.kind,
        attempt: before.all + 1,
        retry_at: retryAt === null ? null : toDbTimestamp(retryAt),
        missing_kind: build.failure.missing?.kind ?? null,
        missing_name: build.failure.missing?.name ?? null,
        debian_package: null,
      })
      .execute();
  }
}

function environmentRow(buildId: number, env: BuildEnvironment) {
  return {
    build_id: buildId,
    os: env.os,
    python: env.python,
    pip: env.pip,
    setuptools: env.setuptools,
    wheel: env.wheel,
    dpkg_digest: env.dpkgDigest,
    reproduce: env.reproduce,
  };
}

/**
 * Moves up to `limit` failed builds whose retry time has come into the
 * attempts history and deletes them, so that their versions are queued
 * again. All in one transaction.
 */
export async function retryDueBuilds(store: Store, now: Date, limit = 100): Promise<Retried[]> {
  return transaction(store, async (db) => {
    const due = await db
      .selectFrom('build_failures as f')
      .innerJoin('builds as b', 'b.build_id', 'f.build_id')
      .select(['f.build_id', 'f.kind', 'f.attempt', 'b.package', 'b.version', 'b.abi_tag', 'b.built_by', 'b.built_at', store.derived.durationMicros('b.duration').as('us')])
      .where('f.retry_at', 'is not', null)
      .where('f.retry_at', '<=', toDbTimestamp(now))
      .orderBy('f.retry_at')
      .limit(limit)
      .execute();
    if (due.length === 0) return [];
    const retried: Retried[] = due.map((row) => ({
      package: row.package,
      version: row.version,
      abi: row.abi_tag,
      buildId: Number(row.build_id),
      kind: FailureKindSchema.catch('package').parse(row.kind),
    }));
    await db
      .insertInto('build_attempts')
      .values(
        due.map((row, i) => ({
          package: row.package,
          version: row.version,
          abi_tag: row.abi_tag,
          attempt: row.attempt,
          kind: retried[i]!.kind,
          built_by: row.built_by,
          built_at: toDbTimestamp(fromDbTimestamp(row.built_at)),
          log_build_id: Number(row.build_id),
        })),
      )
      .execute();
    const ids = retried.map((r) => r.buildId);
    await db.deleteFrom('build_failures').where('build_id', 'in', ids).execute();
    await db.deleteFrom('build_environments').where('build_id', 'in', ids).execute();
    await db.deleteFrom('builds').where('build_id', 'in', ids).execute();
    await store.derived.buildsChanged(db, due.map((row) => Number(row.us)), -1);
    const byPackage = new Map<string, string[]>();
    for (const r of retried) byPackage.set(r.package, [...(byPackage.get(r.package) ?? []), r.version]);
    for (const [pkg, versions] of byPackage) await store.derived.refreshQueue(db, pkg, [...new Set(versions)]);
    return retried;
  });
}

export interface LostBuild {
  package: string;
  version: string;
  abiTag: string;
  slaveId: number;
  at: Date;
}

/**
 * Notes a build whose slave went silent (it was handed back to the queue);
 * false when the version no longer exists.
 */
export async function recordLostBuild(store: Store, lost: LostBuild): Promise<boolean> {
  return transaction(store, async (db) => {
    const exists = await db.selectFrom('versions').select('version').where('package', '=', lost.package).where('version', '=', lost.version).executeTakeFirst();
    if (!exists) return false;
    const before = await attemptsBefore(db, lost.package, lost.version, lost.abiTag);
    await db
      .insertInto('build_attempts')
      .values({
        package: lost.package,
        version: lost.version,
        abi_tag: lost.abiTag,
        attempt: before.all + 1,
        kind: 'slave-lost',
        built_by: lost.slaveId,
        built_at: toDbTimestamp(lost.at),
        log_build_id: null,
      })
      .execute();
    return true;
  });
}

/** Names the Debian package that provides a failed build's missing dependency. */
export async function setDebianPackage(store: Store, buildId: number, debianPackage: string): Promise<void> {
  await store.conn.kysely.updateTable('build_failures').set({ debian_package: debianPackage.slice(0, 200) }).where('build_id', '=', buildId).execute();
}

type FailureRow = {
  kind: string;
  attempt: number;
  retry_at: string | null;
  missing_kind: string | null;
  missing_name: string | null;
  debian_package: string | null;
};

export function failureFromRow(row: FailureRow): FailureInfo {
  const missing = MissingDependencySchema.safeParse({ kind: row.missing_kind, name: row.missing_name });
  return {
    kind: FailureKindSchema.catch('package').parse(row.kind),
    attempt: Number(row.attempt),
    retryAt: row.retry_at === null ? null : fromDbTimestamp(row.retry_at),
    missing: missing.success ? missing.data : null,
    debianPackage: row.debian_package,
  };
}

/** One build's triage, or null (a success, or recorded without one). */
export async function getBuildFailure(store: Store, buildId: number): Promise<FailureInfo | null> {
  const row = await store.conn.kysely
    .selectFrom('build_failures')
    .select(['kind', 'attempt', 'retry_at', 'missing_kind', 'missing_name', 'debian_package'])
    .where('build_id', '=', buildId)
    .executeTakeFirst();
  return row === undefined ? null : failureFromRow(row);
}

/** Forgets the attempts of a version (an operator's rebuild starts its tries afresh). */
export async function forgetAttempts(db: Db, pkg: string, version: string): Promise<void> {
  await db.deleteFrom('build_attempts').where('package', '=', pkg).where('version', '=', version).execute();
}

type AttemptRow = { abi_tag: string; attempt: number; kind: string; built_by: number; built_at: string; log_build_id: number | null };

export function attemptFromRow(row: AttemptRow): AttemptInfo {
  return {
    abi: row.abi_tag,
    attempt: Number(row.attempt),
    kind: FailureKindSchema.catch('package').parse(row.kind),
    builtBy: Number(row.built_by),
    builtAt: fromDbTimestamp(row.built_at),
    logBuildId: row.log_build_id === null ? null : Number(row.log_build_id),
  };
}

export function environmentFromRow(row: {
  os: string;
  python: string;
  pip: string | null;
  setuptools: string | null;
  wheel: string | null;
  dpkg_digest: string | null;
  reproduce: string;
}): BuildEnvironment {
  return { os: row.os, python: row.python, pip: row.pip, setuptools: row.setuptools, wheel: row.wheel, dpkgDigest: row.dpkg_digest, reproduce: row.reproduce };
}
