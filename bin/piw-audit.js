#!/usr/bin/env node
import { register } from 'tsx/esm/api';
register();
const { runCli } = await import('../shared/cli.ts');
const { main } = await import('../coordinator/tools/audit.ts');
await runCli('piw-audit', () => main(process.argv));
