// The installed commands run compiled JavaScript (dist/, made by npm run
// build, which npm install and npm test run first): no bin and no worker
// thread may need the tsx loader, which is only a development dependency.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { REPO_ROOT, bundleName } from '../../shared/paths.ts';

const DIST = join(REPO_ROOT, 'dist');
// what tsc emits; the command bundles, the site renderer and the packed slave are built otherwise
const COMPILED_TREES = ['coordinator', 'shared', 'slave', 'upstream', 'site'];

function jsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return jsFiles(path);
    return entry.name.endsWith('.js') ? [path] : [];
  });
}

/** Module specifiers of static and literal dynamic imports. */
function specifiers(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? '');
}

const compiled = COMPILED_TREES.flatMap((tree) => jsFiles(join(DIST, tree)));
const bundled = jsFiles(join(DIST, 'bundle'));
const bins = readdirSync(join(REPO_ROOT, 'bin')).filter((name) => name.endsWith('.js'));

describe('compiled tree', () => {
  test('has been built', () => {
    assert.ok(compiled.length > 50, 'dist/ is missing or partial: run npm run build');
  });

  test('no bin imports tsx or a TypeScript source; each one imports a compiled module that exists', () => {
    for (const name of bins) {
      const path = join(REPO_ROOT, 'bin', name);
      const source = readFileSync(path, 'utf8');
      assert.doesNotMatch(source, /tsx/, name);
      const imports = specifiers(source);
      assert.ok(imports.length > 0, name);
      for (const spec of imports) {
        assert.match(spec, /^\.\.\/dist\/.*\.js$/, `${name} imports ${spec}`);
        assert.ok(existsSync(resolve(dirname(path), spec)), `${name}: ${spec} was not compiled`);
      }
    }
  });

  test('no compiled module imports tsx, and relative imports point at compiled .js files', () => {
    for (const path of compiled) {
      for (const spec of specifiers(readFileSync(path, 'utf8'))) {
        const where = `${relative(DIST, path)} imports ${spec}`;
        assert.ok(spec !== 'tsx' && !spec.startsWith('tsx/'), where);
        if (spec.startsWith('.')) assert.match(spec, /\.js$/, where);
      }
    }
  });

  test('every worker thread module resolves to a compiled file', () => {
    let workers = 0;
    for (const path of [...compiled, ...bundled]) {
      for (const m of readFileSync(path, 'utf8').matchAll(/(?:moduleUrl|workerEntry)\(\s*['"]([^'"]+)\.ts['"]\s*\)/g)) {
        workers += 1;
        const target = join(DIST, `${m[1] ?? ''}.js`);
        assert.ok(existsSync(target), `${relative(DIST, path)}: ${relative(DIST, target)} was not compiled`);
        assert.doesNotMatch(readFileSync(target, 'utf8'), /['"]tsx(\/[^'"]*)?['"]/, relative(DIST, target));
        // the commands run bundles, whose worker threads start bundles of their own
        const bundle = join(DIST, 'bundle', bundleName(`${m[1] ?? ''}.ts`));
        assert.ok(existsSync(bundle), `${relative(DIST, path)}: ${relative(DIST, bundle)} was not bundled`);
      }
    }
    // database, access log, page writer threads, full regeneration, hashing
    assert.ok(workers >= 5, `found ${workers} worker modules`);
  });

  test('the bundles the bins start take no TypeScript and no tsx, and run from their own folder', () => {
    assert.ok(bundled.length > 10, 'dist/bundle/ is missing or partial: run npm run build');
    let chunkImports = 0;
    for (const path of bundled) {
      // esbuild writes its own imports double-quoted, at the start of a line or as import("...")
      const source = readFileSync(path, 'utf8');
      for (const m of source.matchAll(/(?:^import\s[^;]*?from\s*|\bimport\(\s*)"([^"]+)"/gm)) {
        const spec = m[1] ?? '';
        const where = `${relative(DIST, path)} imports ${spec}`;
        assert.ok(spec !== 'tsx' && !spec.startsWith('tsx/') && !spec.endsWith('.ts'), where);
        // chunks sit beside the entries: shared/paths.ts finds dist/ one folder up
        if (spec.startsWith('.')) {
          chunkImports += 1;
          assert.match(spec, /^\.\/[^/]+\.js$/, where);
        }
      }
    }
    assert.ok(chunkImports > 10, `found ${chunkImports} imports of chunks`);
  });

  test('tsx is a development dependency only', () => {
    const pkg = z
      .object({ dependencies: z.record(z.string(), z.string()), devDependencies: z.record(z.string(), z.string()) })
      .parse(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')));
    assert.equal(pkg.dependencies.tsx, undefined);
    assert.ok(pkg.devDependencies.tsx);
  });
});
