#!/usr/bin/env node
// the compiled tree (npm run build; npm install does it)
const { run } = await import('../dist/coordinator/all-in-one/farm.js');
await run();
