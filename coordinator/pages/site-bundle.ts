// Compiles the Astro site (site/render.ts and the components it imports) into
// a plain ES module once, with Astro's own Vite configuration, and loads it
// in-process. The result is cached under dist/renderer/<hash of the sources>
// so a restart reuses it and an edited component triggers a rebuild.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import fg from 'fast-glob';
import { REPO_ROOT, repoPath } from '../../shared/paths.ts';
import type { SiteRenderer } from '../../site/lib/renderer.ts';

export { REPO_ROOT };
export const SITE_DIR = join(REPO_ROOT, 'site');
const BUNDLE_ROOT = join(REPO_ROOT, 'dist', 'renderer');

/** Every file under `dir`, hidden ones too, as absolute paths in a fixed order. */
async function listFiles(dir: string): Promise<string[]> {
  return (await fg('**', { cwd: dir, absolute: true, dot: true })).sort();
}

/** A digest of everything that goes into the bundle. */
export async function siteSourceHash(): Promise<string> {
  const hash = createHash('sha256');
  const require = createRequire(import.meta.url);
  const astroVersion = (JSON.parse(await readFile(require.resolve('astro/package.json'), 'utf8')) as { version: string }).version;
  hash.update(`astro ${astroVersion}\n`);
  // This file's source too (compiled or not, the same bundle): it holds the build settings.
  const files = [repoPath('coordinator', 'pages', 'site-bundle.ts'), join(REPO_ROOT, 'astro.config.mjs'), join(REPO_ROOT, 'shared', 'model.ts'), ...(await listFiles(SITE_DIR))];
  for (const file of files) {
    hash.update(`${relative(REPO_ROOT, file)}\n`);
    hash.update(await readFile(file));
  }
  return hash.digest('hex').slice(0, 16);
}

async function buildBundle(outDir: string): Promise<void> {
  const [{ build }, { getViteConfig }] = await Promise.all([import('vite'), import('astro/config')]);
  const config = await getViteConfig(
    {
      root: REPO_ROOT,
      logLevel: 'warn',
      // Astro's runtime takes two constants from these; bundled, they come
      // without the markdown and syntax-highlighting stacks behind them.
      ssr: { noExternal: ['@astrojs/markdown-remark', 'shiki'] },
      build: {
        ssr: join(SITE_DIR, 'render.ts'),
        outDir,
        emptyOutDir: true,
        copyPublicDir: false,
        minify: false,
        // Native class fields: lowering them to defineProperty calls made
        // Astro's per-render objects several times slower to build.
        target: 'node20',
        rollupOptions: {
          output: { format: 'es', entryFileNames: 'render.mjs' },
          // Astro's runtime imports packages only for their side effects
          // (esbuild, cssesc, ...) that rendering never needs: loading them
          // made every page-writer thread the biggest in the process.
          treeshake: { moduleSideEffects: 'no-external' },
        },
      },
    },
    { root: REPO_ROOT, logLevel: 'warn' },
  )({ mode: 'production', command: 'build' });
  await build(config);
}

function isSiteModule(value: unknown): value is { createRenderer: () => Promise<SiteRenderer> } {
  return typeof value === 'object' && value !== null && typeof (value as { createRenderer?: unknown }).createRenderer === 'function';
}

let cached: Promise<SiteRenderer> | null = null;

/**
 * The site renderer, compiling the bundle first when the sources changed.
 * Concurrent processes may both compile; each builds into its own temporary
 * directory and the first rename wins.
 */
export function loadSiteRenderer(): Promise<SiteRenderer> {
  cached ??= (async () => {
    const hash = await siteSourceHash();
    const dir = join(BUNDLE_ROOT, hash);
    const entry = join(dir, 'render.mjs');
    if (!existsSync(entry)) {
      await mkdir(BUNDLE_ROOT, { recursive: true });
      const temp = join(BUNDLE_ROOT, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
      try {
        await buildBundle(temp);
        await rename(temp, dir).catch((error: NodeJS.ErrnoException) => {
          if (!existsSync(entry)) throw error;
        });
        // Bundles of older sources are single files already loaded by
        // whoever uses them; keep only the current one on disk.
        for (const name of await readdir(BUNDLE_ROOT)) {
          if (name !== hash && !name.startsWith('.')) await rm(join(BUNDLE_ROOT, name), { recursive: true, force: true });
        }
      } finally {
        await rm(temp, { recursive: true, force: true });
      }
    }
    const mod: unknown = await import(pathToFileURL(entry).href);
    if (!isSiteModule(mod)) throw new Error(`site bundle ${entry} does not export createRenderer`);
    return mod.createRenderer();
  })();
  cached.catch(() => {
    cached = null;
  });
  return cached;
}
