// The site lives in site/ (components, layouts, static assets). The scribe
// compiles site/render.ts with this configuration and renders pages
// in-process. `astro build` renders the data-free pages in site/pages/, and
// given a farm (PIW_DSN / PIW_OUTPUT_PATH, or -c FILE / PIW_CONFIGURATION, or
// /etc/piwheels.toml) regenerates its whole output tree from the database
// through the same renderer the coordinator uses.
import { existsSync } from 'node:fs';
import { defineConfig } from 'astro/config';

/** The -c / --configuration FILE of the command line, if any. */
function configurationArgument(argv) {
  const at = argv.findIndex((arg) => arg === '-c' || arg === '--configuration');
  if (at !== -1) return argv[at + 1];
  const inline = argv.find((arg) => arg.startsWith('--configuration='));
  return inline?.slice('--configuration='.length);
}

function farmRegeneration() {
  return {
    name: 'piwheels-regenerate',
    hooks: {
      'astro:build:done': async ({ logger }) => {
        const env = process.env;
        const file = configurationArgument(process.argv) ?? (env.PIW_CONFIGURATION || undefined);
        const anyDefault = ['/etc/piwheels.toml', '/usr/local/etc/piwheels.toml'].some((path) => existsSync(path));
        if (!env.PIW_DSN && !env.PIW_OUTPUT_PATH && file === undefined && !anyDefault) {
          logger.info('no farm given: set PIW_DSN and PIW_OUTPUT_PATH (or -c FILE) to regenerate its output tree from the database');
          return;
        }
        // The compiled regeneration (npm install builds it), run by Node itself,
        // not through Vite: its worker threads and native database driver load
        // as in piw-master.
        const compiled = new URL('./dist/coordinator/pages/site-build.js', import.meta.url);
        if (!existsSync(compiled)) throw new Error('the compiled tree is missing: run npm run build first');
        const { runSiteBuild } = await import(compiled.href);
        await runSiteBuild({ env, file, log: (line) => logger.info(line) });
      },
    },
  };
}

export default defineConfig({
  srcDir: './site',
  publicDir: './site/public',
  // its own folder: dist/site holds the compiled site/ sources, which a build would wipe
  outDir: './dist/astro',
  build: { format: 'file' },
  compressHTML: true,
  devToolbar: { enabled: false },
  integrations: [farmRegeneration()],
});
