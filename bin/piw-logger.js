#!/usr/bin/env node
// its bundle (npm run build; npm install does it)
const { runCli } = await import('../dist/bundle/cli.js');
const { main } = await import('../dist/bundle/piw-logger.js');
await runCli('piw-logger', () => main(process.argv));
