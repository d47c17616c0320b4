#!/usr/bin/env node
// the compiled tree (npm run build; npm install does it)
const { run } = await import('../dist/coordinator/master.js');
await run();
