#!/usr/bin/env node
import { register } from 'tsx/esm/api';
register();
const { run } = await import('../coordinator/all-in-one.ts');
await run();
