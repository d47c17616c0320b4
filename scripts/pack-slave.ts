// npm run pack:slave: piw-slave on its own, for build machines. esbuild
// bundles slave/ and the shared/ code it uses into a few JavaScript files;
// only the packages with native code stay outside the bundle, so installing
// the tarball pulls zeromq and cbor-x and nothing of the coordinator (no
// Astro, no database drivers, no TypeScript).
//
//   npm run pack:slave [-- --out DIR]   → DIR/piwheels-slave-VERSION.tgz (DIR: dist/)
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { z } from 'zod';
import { repoPath } from '../shared/paths.ts';

/** Kept out of the bundle: native add-ons, loaded from node_modules at run time. */
export const SLAVE_RUNTIME_DEPENDENCIES = ['zeromq', 'cbor-x'] as const;

const rootPackage = z
  .object({ version: z.string(), license: z.string(), engines: z.object({ node: z.string() }), dependencies: z.record(z.string(), z.string()) })
  .parse(JSON.parse(readFileSync(repoPath('package.json'), 'utf8')));

/** Bundles piw-slave with its package.json and packs it; returns the tarball's path (in `out`). */
export async function packSlave(out: string): Promise<string> {
  const stage = join(out, 'slave-package');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  await build({
    entryPoints: { 'piw-slave': repoPath('slave', 'main.ts') },
    // bin/piw-slave.js, as in a checkout: the systemd unit starts either
    outdir: join(stage, 'bin'),
    bundle: true,
    // chunks keep the daemon a lazy import, as in the compiled tree: --help stays light
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: [...SLAVE_RUNTIME_DEPENDENCIES],
    // CommonJS packages in an ES module bundle still call require()
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __pwCreateRequire } from 'node:module';\nconst require = __pwCreateRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'warning',
  });
  chmodSync(join(stage, 'bin', 'piw-slave.js'), 0o755);
  const dependencies = Object.fromEntries(
    SLAVE_RUNTIME_DEPENDENCIES.map((name) => {
      const range = rootPackage.dependencies[name];
      if (range === undefined) throw new Error(`${name} is not a dependency in package.json`);
      return [name, range];
    }),
  );
  const manifest = {
    name: 'piwheels-slave',
    version: rootPackage.version,
    description: 'piw-slave: the build daemon of a piwheels farm, for each Raspberry Pi build machine',
    type: 'module',
    license: rootPackage.license,
    engines: rootPackage.engines,
    bin: { 'piw-slave': 'bin/piw-slave.js' },
    dependencies,
  };
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', resolve(out)], { cwd: stage, encoding: 'utf8' }).trim().split('\n').pop();
  if (name === undefined || name === '') throw new Error('npm pack named no tarball');
  return join(resolve(out), name);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: repoPath('dist') } } });
  console.log(await packSlave(values.out));
}
