// `npm run bench [-- NAME...]`: runs each bench/*.bench.ts (or those whose
// names contain one of NAME) in its own process, one after another, so one
// benchmark's memory and caches never colour the next one's figures.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
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
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(here, name)], { stdio: 'inherit' });
  if (result.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
