// Where things are, whichever form the code runs in: the TypeScript sources
// (under tsx, as the tests do), the compiled tree (dist/, file for file) or
// the bundles the installed commands start (dist/bundle/, made by esbuild
// from the sources, with PIW_BUNDLE defined). This file sits one folder below
// its code root in all three (shared/, dist/shared/, dist/bundle/), so the
// root is found the same way. A worker thread runs the same form as the code
// that starts it: a module of the sources, of the tree, or a bundle of its own.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

declare const PIW_BUNDLE: boolean | undefined;

const bundled = typeof PIW_BUNDLE !== 'undefined';
const fromSources = !bundled && !import.meta.url.endsWith('.js');

/** The root of the module tree: the checkout (sources) or dist/ (compiled). */
const CODE_ROOT = new URL('../', import.meta.url);

/** The file name of the bundle made of a module loaded by URL: `coordinator.pages.scribe-thread.js`. */
export function bundleName(sourcePath: string): string {
  return `${sourcePath.replace(/\.ts$/, '').replaceAll('/', '.')}.js`;
}

/**
 * A module named by its source path from the checkout's root
 * (`'coordinator/pages/scribe-thread.ts'`), in the form the caller runs: the
 * source, the compiled .js file, or its bundle. For modules loaded by URL
 * (worker threads).
 */
export function moduleUrl(sourcePath: string): URL {
  if (bundled) return new URL(`bundle/${bundleName(sourcePath)}`, CODE_ROOT);
  const url = new URL(sourcePath, CODE_ROOT);
  if (!fromSources && url.pathname.endsWith('.ts')) url.pathname = `${url.pathname.slice(0, -3)}.js`;
  return url;
}

/** What `new Worker()` is given to run a module of the tree. */
export interface WorkerEntry {
  filename: URL;
  argv: string[];
}

/**
 * The compiled module itself, or under tsx a boot file that registers the
 * loader first and takes the module from `argv`.
 */
export function workerEntry(sourcePath: string): WorkerEntry {
  const url = moduleUrl(sourcePath);
  if (!fromSources) return { filename: url, argv: [] };
  return { filename: new URL('shared/tsx-worker.mjs', CODE_ROOT), argv: [url.href] };
}

/** The checkout or installed package: package.json, bin/, sql/, site/. */
export const REPO_ROOT = fileURLToPath(fromSources ? CODE_ROOT : new URL('../', CODE_ROOT));

/** A file kept in the source tree (SQL, sample projects, the site), compiled or not. */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}
