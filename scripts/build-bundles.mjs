// The third step of npm run build: one bundle per command (dist/bundle/),
// made by esbuild from the sources, which the bins start. Node loads a
// bundle in a fraction of the time it takes to resolve and link the same
// code as hundreds of modules (kysely alone is ~500 files: 240 ms against
// 18 ms bundled), and that is the time until piw-master's slave port listens
// and a slave's HELLO leaves, and it takes less memory (kysely: 3 MB against
// 14 MB). Pure-JavaScript libraries go into the bundles; packages with
// native code or files of their own to load stay in node_modules. Modules
// that run in worker threads get bundles of their own, named by bundleName().
import { build } from 'esbuild';
import { bundleName } from '../dist/shared/paths.js';

/** Command → its source module; tool commands also import `cli`. */
const ENTRIES = {
  cli: 'shared/cli.ts',
  'piw-master': 'coordinator/master.ts',
  'piw-farm': 'coordinator/all-in-one/farm.ts',
  'piw-slave': 'slave/main.ts',
  'piw-upstream': 'upstream/main.ts',
  'piw-initdb': 'coordinator/tools/initdb.ts',
  'piw-add': 'coordinator/tools/add.ts',
  'piw-audit': 'coordinator/tools/audit.ts',
  'piw-import': 'coordinator/tools/import.ts',
  'piw-keys': 'coordinator/tools/keys.ts',
  'piw-logger': 'coordinator/tools/logger.ts',
  'piw-monitor': 'coordinator/tools/monitor.ts',
  'piw-rebuild': 'coordinator/tools/rebuild.ts',
  'piw-remove': 'coordinator/tools/remove.ts',
};

/** Modules loaded by URL in worker threads (moduleUrl / workerEntry). */
const WORKER_MODULES = [
  'coordinator/runtime/worker-thread-entry.ts',
  'coordinator/pages/scribe-thread.ts',
  'coordinator/pages/page-writer.ts',
  'coordinator/access/access-store.ts',
  'shared/db/index.ts',
  'shared/wire/file-hasher-worker.ts',
];
for (const path of WORKER_MODULES) ENTRIES[bundleName(path).replace(/\.js$/, '')] = path;

/** Bundled: pure JavaScript, loaded once at start. Every other package stays external. */
const INLINE = new Set(['kysely', 'zod', 'commander', 'smol-toml', 'fast-xml-parser', '@renovatebot/pep440', 'fast-glob', 'cli-progress', 'yauzl']);

const packageOf = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);

await build({
  entryPoints: ENTRIES,
  outdir: 'dist/bundle',
  bundle: true,
  // shared code goes into chunks beside the entries, so every bundle file sits
  // one folder below dist/ (shared/paths.ts relies on it); lazy imports stay lazy
  splitting: true,
  chunkNames: 'chunk-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  define: { PIW_BUNDLE: 'true' },
  plugins: [
    {
      name: 'external-packages',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          if (args.path.startsWith('node:') || INLINE.has(packageOf(args.path))) return undefined;
          return { path: args.path, external: true };
        });
      },
    },
  ],
  // CommonJS packages inside an ES module bundle still call require()
  banner: { js: "import { createRequire as __pwCreateRequire } from 'node:module';\nconst require = __pwCreateRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
