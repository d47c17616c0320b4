#!/usr/bin/env node
import { register } from 'tsx/esm/api';
register();
const { runCli } = await import('../shared/cli.ts');
const { main } = await import('../coordinator/tools/add.ts');
await runCli('piw-add', () => main(process.argv));
