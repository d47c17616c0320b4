#!/usr/bin/env node
// Runs every *.test.ts file under test/ with Node's own test runner (through
// tsx for TypeScript). Node 20's --test does not expand globs itself.
import { spawnSync } from 'node:child_process';
import fg from 'fast-glob';

const filter = process.argv.slice(2);
let files = fg.sync('test/**/*.test.ts', { dot: true }).sort();
if (filter.length > 0) files = files.filter((f) => filter.some((p) => f.includes(p)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
