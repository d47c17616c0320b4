#!/usr/bin/env node
// the compiled tree (npm run build; npm install does it)
const { runCli } = await import('../dist/shared/cli.js');
const { main } = await import('../dist/coordinator/tools/add.js');
await runCli('piw-add', () => main(process.argv));
