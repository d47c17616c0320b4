#!/usr/bin/env node
import { register } from 'tsx/esm/api';
register();
const { run } = await import('../coordinator/farm/farm.ts');
await run();
