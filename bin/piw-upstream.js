#!/usr/bin/env node
// its bundle (npm run build; npm install does it)
await import('../dist/bundle/piw-upstream.js');
