#!/usr/bin/env node
// its bundle (npm run build; npm install does it)
const { run } = await import('../dist/bundle/piw-farm.js');
await run();
