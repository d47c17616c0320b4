// Schema versions: our numbered migrations (sql/<dialect>/NNNN_name.sql,
// recorded in schema_migrations), and adoption of a piwheels 0.23 database,
// whose tables are those of migration 1.
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { UserError } from '../cli.ts';
import { repoPath } from '../paths.ts';
import { runScript, type Connection, type DialectName } from './connect.ts';
import { DerivedTables } from './derived.ts';
import { toDbTimestamp } from './values.ts';

export interface Migration {
  version: number;
  name: string;
  /** What it does, for the plan shown before it runs. */
  summary: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'piwheels_tables', summary: 'create the piwheels 0.23 tables' },
  { version: 2, name: 'derived_tables', summary: 'add wheel metadata hashes, the build queue and counter tables' },
  { version: 3, name: 'page_indexes', summary: 'add covering indexes for project pages and per-package download totals' },
  { version: 4, name: 'build_targets', summary: "add build platforms, the builder's platform of each build, and the build queue per target" },
  { version: 5, name: 'build_triage', summary: 'add failure kinds and retry times, build environments and earlier build attempts' },
  { version: 6, name: 'upstream_files', summary: "record upstream's wheels per release, build files withheld for clashing with them, and releases upstream serves" },
];

// Numbers are taken when work starts, so a released list may have gaps.
export const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/** The piwheels release whose databases can be adopted. */
export const ADOPTABLE_PIWHEELS = '0.23';

export type SchemaState =
  | { kind: 'empty' }
  | { kind: 'ours'; version: number }
  | { kind: 'piwheels'; version: string }
  | { kind: 'foreign'; tables: string[] };

export type UpgradeStep = { kind: 'adopt'; from: string } | { kind: 'migrate'; migration: Migration };

export function describeState(state: SchemaState): string {
  switch (state.kind) {
    case 'empty':
      return 'empty database';
    case 'ours':
      return `schema version ${state.version}`;
    case 'piwheels':
      return `piwheels ${state.version} database`;
    case 'foreign':
      return `unrecognised database (tables: ${state.tables.slice(0, 5).join(', ')}${state.tables.length > 5 ? ', ...' : ''})`;
  }
}

export function describeStep(step: UpgradeStep): string {
  return step.kind === 'adopt'
    ? `adopt the piwheels ${step.from} database: keep its tables and rows, drop its view and stored functions`
    : `apply migration ${step.migration.version} (${step.migration.name}): ${step.migration.summary}`;
}

/**
 * The steps from a detected state to `target` (the latest by default); [] when
 * there is nothing to do. Refuses what it cannot handle, in words that say why.
 */
export function planUpgrade(state: SchemaState, target: number = LATEST_VERSION): UpgradeStep[] {
  switch (state.kind) {
    case 'foreign':
      throw new UserError(`refusing to touch an ${describeState(state)}: use an empty database`);
    case 'piwheels':
      if (state.version !== ADOPTABLE_PIWHEELS) {
        throw new UserError(
          `this is a piwheels ${state.version} database; only ${ADOPTABLE_PIWHEELS} can be adopted: upgrade it with piwheels' own piw-initdb first`,
        );
      }
      return [{ kind: 'adopt', from: state.version }, ...MIGRATIONS.filter((m) => m.version > 1 && m.version <= target).map(migrate)];
    case 'ours':
      if (state.version > LATEST_VERSION) {
        throw new UserError(
          `the database is at schema version ${state.version}, newer than this software knows (${LATEST_VERSION}): upgrade the software`,
        );
      }
      return MIGRATIONS.filter((m) => m.version > state.version && m.version <= target).map(migrate);
    case 'empty':
      return MIGRATIONS.filter((m) => m.version <= target).map(migrate);
  }
}

function migrate(migration: Migration): UpgradeStep {
  return { kind: 'migrate', migration };
}

async function tableNames(conn: Connection): Promise<string[]> {
  const query =
    conn.dialect === 'postgres'
      ? sql<{ name: string }>`SELECT tablename AS name FROM pg_catalog.pg_tables WHERE schemaname = current_schema()`
      : sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`;
  return (await query.execute(conn.kysely)).rows.map((r) => r.name).sort();
}

export async function detectState(conn: Connection): Promise<SchemaState> {
  const tables = await tableNames(conn);
  if (tables.length === 0) return { kind: 'empty' };
  if (tables.includes('schema_migrations')) {
    const row = await conn.kysely
      .selectFrom('schema_migrations')
      .select(sql<number | null>`MAX(version)`.as('version'))
      .executeTakeFirst();
    return { kind: 'ours', version: Number(row?.version ?? 0) };
  }
  if (tables.includes('configuration') && tables.includes('packages')) {
    const row = await conn.kysely.selectFrom('configuration').select('version').executeTakeFirst();
    if (row) return { kind: 'piwheels', version: row.version };
  }
  return { kind: 'foreign', tables };
}

function script(dialect: DialectName, file: string): string {
  return readFileSync(repoPath('sql', dialect, file), 'utf8');
}

function migrationFile(m: Migration): string {
  return `${String(m.version).padStart(4, '0')}_${m.name}.sql`;
}

/**
 * Runs the steps in one transaction (all or nothing), then recomputes the
 * derived tables in it when the schema is the latest.
 */
export async function applyUpgrade(conn: Connection, steps: readonly UpgradeStep[], onStep?: (step: UpgradeStep) => void): Promise<void> {
  if (steps.length === 0) return;
  const derived = new DerivedTables(conn.dialect);
  await conn.kysely.transaction().execute(async (trx) => {
    let version = 0;
    for (const step of steps) {
      onStep?.(step);
      if (step.kind === 'adopt') {
        if (conn.dialect !== 'postgres') throw new UserError('piwheels databases are PostgreSQL databases');
        await runScript(trx, script('postgres', `adopt_piwheels_${step.from}.sql`));
        await trx
          .insertInto('schema_migrations')
          .values({ version: 1, name: `adopted_piwheels_${step.from}`, applied_at: toDbTimestamp(new Date()) })
          .execute();
        version = 1;
      } else {
        await runScript(trx, script(conn.dialect, migrationFile(step.migration)));
        await trx
          .insertInto('schema_migrations')
          .values({ version: step.migration.version, name: step.migration.name, applied_at: toDbTimestamp(new Date()) })
          .execute();
        version = step.migration.version;
      }
    }
    await trx.updateTable('configuration').set({ version: `ts-${version}` }).where('id', '=', 1).execute();
    // The derived tables are those of the latest schema; an intermediate
    // version (a step towards the latest) is left to the next upgrade.
    if (version === LATEST_VERSION) await derived.rebuild(trx);
  });
}
