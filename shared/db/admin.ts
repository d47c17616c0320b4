// What piw-initdb does besides migrating: looks at the build ABIs and
// platforms of a database of any schema version, and checks and grants the PostgreSQL role
// the coordinator connects as.
import { sql } from 'kysely';
import { UserError } from '../cli.ts';
import type { Connection } from './connect.ts';

/** Every build ABI with its skip reason ('' when active). */
export async function buildAbiSkips(conn: Connection): Promise<Map<string, string>> {
  const rows = await conn.kysely.selectFrom('build_abis').select(['abi_tag', 'skip']).execute();
  return new Map(rows.map((r) => [r.abi_tag, r.skip]));
}

/**
 * Every build platform with its skip reason ('' when active); none before
 * the schema had platforms (an adopted piwheels database, say).
 */
export async function buildPlatformSkips(conn: Connection): Promise<Map<string, string>> {
  const present = await conn.kysely.introspection.getTables();
  if (!present.some((t) => t.name === 'build_platforms')) return new Map();
  const rows = await conn.kysely.selectFrom('build_platforms').select(['platform_tag', 'skip']).execute();
  return new Map(rows.map((r) => [r.platform_tag, r.skip]));
}

/** Throws unless `user` is an existing, ordinary PostgreSQL role. */
export async function checkRole(conn: Connection, user: string): Promise<void> {
  if (conn.dialect !== 'postgres') throw new UserError('--user applies to PostgreSQL databases only');
  const row = await sql<{ rolsuper: boolean }>`SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = ${user}`.execute(conn.kysely);
  const role = row.rows[0];
  if (!role) throw new UserError(`no PostgreSQL role ${JSON.stringify(user)}: create it first (CREATE ROLE ${user} LOGIN)`);
  if (role.rolsuper) throw new UserError(`role ${JSON.stringify(user)} is a superuser: the coordinator should run as an ordinary role`);
}

/** Grants `user` what the coordinator needs: every table and sequence, nothing more. */
export async function grantRole(conn: Connection, user: string): Promise<void> {
  const role = sql.id(user);
  const dbname = (await sql<{ name: string }>`SELECT current_database() AS name`.execute(conn.kysely)).rows[0]?.name ?? '';
  await conn.kysely.transaction().execute(async (trx) => {
    await sql`GRANT CONNECT, TEMP ON DATABASE ${sql.id(dbname)} TO ${role}`.execute(trx);
    await sql`GRANT USAGE ON SCHEMA public TO ${role}`.execute(trx);
    await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`.execute(trx);
    await sql`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`.execute(trx);
  });
}
