#!/usr/bin/env node
import { register } from 'tsx/esm/api';
register();
const { run } = await import('../coordinator/master.ts');
await run();
