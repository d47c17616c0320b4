// Changelog ingest at full scale: piw-upstream (in its own process) replays a
// synthetic history of --events events over the real PyPI names from --names
// (or $PIW_PYPI_NAMES), and a CloudGazer stores it from serial 0 into a fresh
// database of each dialect. Reports events stored per second and the time of
// the first full sync, as a markdown table.
//
//   npm run bench -- changelog            (5,000,000 events)
//   node --import tsx bench/changelog.bench.ts --names FILE --events 500000 --dialects sqlite
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { connect } from '../shared/db/connect.ts';
import { applyUpgrade, detectState, planUpgrade } from '../shared/db/migrate.ts';
import { openDatabase } from '../shared/db/index.ts';
import { CloudGazer } from '../coordinator/upstream/cloud-gazer.ts';
import { PyPIClient } from '../coordinator/upstream/pypi.ts';
import { countRows, openTables } from '../test/helpers/db.ts';

const { values } = parseArgs({
  options: {
    names: { type: 'string' },
    events: { type: 'string', default: '5000000' },
    dialects: { type: 'string', default: 'sqlite,postgres' },
    pg: { type: 'string', default: process.env.PIW_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const names = values.names ?? process.env.PIW_PYPI_NAMES;
if (!names) {
  console.error('changelog bench: give --names FILE or set PIW_PYPI_NAMES (the pypi-packages.tsv.gz of real names)');
  process.exit(2);
}
const events = Number(values.events);
const dialects = (values.dialects ?? '').split(',').filter(Boolean);

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: values.pg });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function scratch(dialect: string): Promise<{ dsn: string; drop: () => Promise<void> }> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'piw-bench-'));
    return { dsn: join(dir, 'piwheels.sqlite'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `piw_bench_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(values.pg as string);
  url.pathname = `/${name}`;
  return { dsn: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

const upstream = spawn(
  process.execPath,
  ['bin/piw-upstream.js', '--synthetic', String(events), '--names', names, '--no-system-wheels'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const [url] = (await once(createInterface({ input: upstream.stdout }), 'line')) as [string];

const rows: string[] = [];
try {
  for (const dialect of dialects) {
    const target = await scratch(dialect);
    try {
      const conn = await connect(target.dsn, { create: true });
      await applyUpgrade(conn, planUpgrade(await detectState(conn)));
      await conn.close();
      const db = await openDatabase(target.dsn);
      await db.addBuildAbi('cp311');
      const pypi = new PyPIClient({ xmlrpcUrl: `${url}/pypi`, jsonUrl: `${url}/pypi` });
      const gazer = new CloudGazer({ db, pypi, follow: false, descriptions: false });
      await gazer.start();
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      let lastReport = started;
      while (gazer.currentSerial < events) {
        const { events: got } = await gazer.poll();
        if (got === 0) throw new Error(`no progress at serial ${gazer.currentSerial}`);
        const now = performance.now();
        if (now - lastReport > 10_000) {
          lastReport = now;
          const rate = gazer.currentSerial / ((now - started) / 1000);
          process.stderr.write(`${dialect}: ${gazer.currentSerial} / ${events} events, ${Math.round(rate)}/s\n`);
        }
      }
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      await gazer.stop();
      const tables = await openTables(target.dsn);
      const counts = { n: await countRows(tables, 'versions') };
      const packages = { n: await countRows(tables, 'packages') };
      await tables.close();
      await db.close();
      rows.push(
        `| ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${events.toLocaleString('en')} | ${Number(packages.n).toLocaleString('en')} / ${Number(counts.n).toLocaleString('en')} | ${seconds.toFixed(1)} s | ${Math.round(events / seconds).toLocaleString('en')} | ${cpuSeconds.toFixed(1)} s | ${Math.round(events / cpuSeconds).toLocaleString('en')} |`,
      );
    } finally {
      await target.drop();
    }
  }
} finally {
  upstream.kill('SIGTERM');
}
// Wall-clock figures depend on what else the machine runs (and on the
// upstream process sharing it); the gazer's own CPU time is shown beside them.
console.log('| database | events | packages / versions stored | first full sync | events stored/s | gazer CPU | events per gazer CPU-second |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
