#!/usr/bin/env node
// the compiled tree (npm run build; npm install does it)
const { runCli } = await import('../dist/shared/cli.js');
const { main } = await import('../dist/coordinator/tools/audit.js');
await runCli('piw-audit', () => main(process.argv));
