#!/usr/bin/env node
import { register } from 'tsx/esm/api';
register();
const { runCli } = await import('../shared/cli.ts');
const { main } = await import('../coordinator/tools/keys.ts');
await runCli('piw-keys', () => main(process.argv.slice(2)));
