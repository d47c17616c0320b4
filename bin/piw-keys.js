#!/usr/bin/env node
// the compiled tree (npm run build; npm install does it)
const { runCli } = await import('../dist/shared/cli.js');
const { main } = await import('../dist/coordinator/tools/keys.js');
await runCli('piw-keys', () => main(process.argv.slice(2)));
