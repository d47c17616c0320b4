// The build queue read per target (the architect's refresh) with platforms,
// on a build_queue table of a chosen size: two ABIs on two platforms, --rows
// versions (default 6,160,000, every version of the full-scale farm) each
// pending on both platforms, on one ABI or the other: 12.3M rows, the most
// the full-scale farm's queue can hold with two platforms. Only build_queue
// is filled, since the read touches nothing else.
// `npm run bench -- queue [--rows N] [--only postgres|sqlite]`.
import { sql } from 'kysely';
import { connect } from '../shared/db/connect.ts';
import { Database } from '../shared/db/index.ts';
import { migrateTo, scratchDatabase } from '../test/helpers/db.ts';

const arg = (name: string): string | undefined => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const rows = Number(arg('--rows') ?? 6_160_000);
if (!Number.isSafeInteger(rows) || rows <= 0) {
  console.error(`queue: --rows must be a positive whole number, not ${arg('--rows')}`);
  process.exit(2);
}
const only = arg('--only');
const ABIS = ['cp311', 'cp313'];
const PLATFORMS = ['linux_aarch64', 'linux_armv7l'];

async function median(runs: number, work: () => Promise<unknown>): Promise<number> {
  await work();
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const t0 = performance.now();
    await work();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? 0;
}

for (const dialect of ['postgres', 'sqlite'] as const) {
  if (only !== undefined && only !== dialect) continue;
  const scratch = await scratchDatabase(dialect);
  try {
    await migrateTo(scratch.dsn);
    const conn = await connect(scratch.dsn);
    const db = new Database(conn);
    for (const abi of ABIS) await db.addBuildAbi(abi);
    for (const platform of PLATFORMS) await db.addBuildPlatform(platform);
    const t0 = performance.now();
    // the same versions on every platform, released one a minute apart, package names shuffled, ABIs alternating
    for (const platform of PLATFORMS) {
      const released =
        dialect === 'postgres'
          ? sql`TIMESTAMP '2015-01-01' + n * INTERVAL '1 minute'`
          : sql`strftime('%Y-%m-%d %H:%M:%S', '2015-01-01', '+' || n || ' minutes')`;
      const series =
        dialect === 'postgres'
          ? sql`SELECT n FROM generate_series(1, ${rows}) AS n`
          : sql`WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${rows}) SELECT n FROM s`;
      await sql`INSERT INTO build_queue (package, version, platform_tag, abi_tag, released)
                SELECT 'pkg' || ((CAST(n AS BIGINT) * 7919) % ${rows}), '1.' || n, ${platform},
                       CASE WHEN n % 2 = 0 THEN ${ABIS[0]} ELSE ${ABIS[1]} END, ${released} FROM (${series}) t`.execute(conn.kysely);
    }
    await sql`ANALYZE`.execute(conn.kysely);
    const fill = (performance.now() - t0) / 1000;
    const q1000 = await median(5, () => db.getBuildQueue(1000));
    const q10 = await median(5, () => db.getBuildQueue(10));
    const sizes = [...(await db.getBuildQueue(1000))].map(([target, list]) => `${target} ${list.length}`).join(', ');
    console.log(
      `${dialect}: build_queue ${(rows * PLATFORMS.length).toLocaleString('en')} rows (filled in ${fill.toFixed(0)} s); ` +
        `first 1000 per target ${q1000.toFixed(2)} ms, first 10 per target ${q10.toFixed(2)} ms (medians of 5); ${sizes}`,
    );
    await db.close();
  } finally {
    await scratch.drop();
  }
}
