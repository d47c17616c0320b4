// The site lives in site/ (components, layouts, static assets). The scribe
// compiles site/render.ts with this configuration and renders pages
// in-process; `astro build` renders the static pages in site/pages/.
import { defineConfig } from 'astro/config';

export default defineConfig({
  srcDir: './site',
  publicDir: './site/public',
  outDir: './dist/site',
  build: { format: 'file' },
  compressHTML: true,
  devToolbar: { enabled: false },
});
