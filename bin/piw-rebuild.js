#!/usr/bin/env node
// the compiled tree (npm run build; npm install does it)
const { runCli } = await import('../dist/shared/cli.js');
const { main } = await import('../dist/coordinator/tools/rebuild.js');
await runCli('piw-rebuild', () => main(process.argv));
