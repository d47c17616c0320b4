// `npm run bench [-- NAME... [--option...]]`: runs each bench/*.bench.ts (or
// those whose names contain one of NAME) in its own process, one after
// another, so one benchmark's memory and caches never colour the next one's
// figures. Everything from the first option on is passed to each benchmark.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const firstOption = args.findIndex((arg) => arg.startsWith('-'));
const filters = firstOption === -1 ? args : args.slice(0, firstOption);
const passed = firstOption === -1 ? [] : args.slice(firstOption);
const benches = readdirSync(here)
  .filter((name) => name.endsWith('.bench.ts'))
  .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
  .sort();
if (benches.length === 0) {
  console.error(`bench: nothing matches ${filters.join(' ')}`);
  process.exit(2);
}
let failed = 0;
for (const name of benches) {
  console.log(`\n## ${name.replace(/\.bench\.ts$/, '')}\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(here, name), ...passed], { stdio: 'inherit' });
  if (result.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
