#!/usr/bin/env node
// its bundle (npm run build; npm install does it)
const { runCli } = await import('../dist/bundle/cli.js');
const { main } = await import('../dist/bundle/piw-monitor.js');
await runCli('piw-monitor', () => main(process.argv));
