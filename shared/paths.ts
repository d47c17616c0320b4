// Where things are, whether the code runs from the compiled tree (dist/, as
// the installed commands do) or from the TypeScript sources (under tsx, as the
// tests do). The compiled tree mirrors the sources one directory deeper, so a
// module can tell which one it is in from its own file extension.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const compiled = (base: string): boolean => base.endsWith('.js');

/**
 * The module `relative` (named by its .ts source) beside the caller, `base`
 * being the caller's import.meta.url: the compiled .js file when the caller
 * is compiled, the source otherwise. For modules loaded by URL (worker threads).
 */
export function moduleUrl(relative: string, base: string): URL {
  const url = new URL(relative, base);
  if (compiled(base) && url.pathname.endsWith('.ts')) url.pathname = `${url.pathname.slice(0, -3)}.js`;
  return url;
}

/** What `new Worker()` is given to run the module `relative` (named by its .ts source) beside the caller. */
export interface WorkerEntry {
  filename: URL;
  argv: string[];
}

/**
 * The compiled module itself, or under tsx a boot file that registers the
 * loader first and takes the module from `argv`.
 */
export function workerEntry(relative: string, base: string): WorkerEntry {
  const url = moduleUrl(relative, base);
  if (!url.pathname.endsWith('.ts')) return { filename: url, argv: [] };
  return { filename: new URL('./tsx-worker.mjs', import.meta.url), argv: [url.href] };
}

/** The checkout or installed package: package.json, bin/, sql/, site/. */
export const REPO_ROOT = fileURLToPath(new URL(compiled(import.meta.url) ? '../..' : '..', import.meta.url));

/** A file kept in the source tree (SQL, sample projects, the site), compiled or not. */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}
