#!/usr/bin/env node
// the compiled tree (npm run build; npm install does it)
await import('../dist/slave/main.js');
