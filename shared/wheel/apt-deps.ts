// The Debian packages a built wheel needs at run time: the shared libraries
// its ELF objects link against (ldd), mapped to the packages that installed
// them (dpkg -S), minus the libraries the wheel carries itself (auditwheel's
// `<pkg>.libs/`, or any other .so inside it). Parsing is pure; the I/O runs
// ldd and dpkg with an abort signal so a stopped build stops these too.
import { execFile } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';

export interface LinkedLibrary {
  soname: string;
  /** Where the loader found it, or null for "not found". */
  path: string | null;
}

/**
 * Libraries from ldd output. Lines without "=>" (the vDSO, the loader itself,
 * "statically linked") name nothing a package must provide.
 */
export function parseLdd(output: string): LinkedLibrary[] {
  const libs: LinkedLibrary[] = [];
  for (const line of output.split('\n')) {
    const found = /^\s*(\S+)\s+=>\s+(\/.*?)\s+\(0x[0-9a-fA-F]+\)\s*$/.exec(line);
    if (found?.[1] !== undefined && found[2] !== undefined) {
      libs.push({ soname: found[1], path: found[2] });
      continue;
    }
    const missing = /^\s*(\S+)\s+=>\s+not found\s*$/.exec(line);
    if (missing?.[1] !== undefined) libs.push({ soname: missing[1], path: null });
  }
  return libs;
}

/**
 * Path → owning packages from `dpkg -S` output ("pkg[:arch][, pkg2]: /path").
 * Architecture qualifiers are dropped (apt dependencies name the package);
 * diversion lines are not ownership and are skipped.
 */
export function parseDpkgSearch(output: string): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    if (line.startsWith('diversion by ')) continue;
    const split = line.indexOf(': /');
    if (split <= 0) continue;
    const path = line.slice(split + 2);
    const packages = line
      .slice(0, split)
      .split(',')
      .map((name) => name.trim().replace(/:[a-z0-9-]+$/, ''))
      .filter((name) => /^[a-z0-9][a-z0-9+.-]*$/.test(name));
    if (packages.length === 0) continue;
    owners.set(path, [...new Set([...(owners.get(path) ?? []), ...packages])]);
  }
  return owners;
}

/**
 * The spellings of a library path dpkg may know it by. On merged-/usr systems
 * /lib is a link to /usr/lib and dpkg records whichever path the package
 * shipped, so both are tried, as is the fully resolved path.
 */
export function pathAliases(path: string, resolved?: string): string[] {
  const aliases = new Set<string>();
  for (const p of [path, resolved]) {
    if (p === undefined) continue;
    aliases.add(p);
    const merged = /^\/usr(\/(?:lib|lib32|lib64|libx32|bin|sbin)\/.*)$/.exec(p);
    if (merged?.[1] !== undefined) aliases.add(merged[1]);
    else if (/^\/(?:lib|lib32|lib64|libx32|bin|sbin)\//.test(p)) aliases.add(`/usr${p}`);
  }
  return [...aliases];
}

export interface AptDependencies {
  /** Debian packages, sorted. */
  apt: string[];
  /** Libraries no package owns (or the loader could not find), sorted. */
  orphans: string[];
}

/**
 * Decides the dependencies from what ldd found. `bundled` holds the sonames
 * of the wheel's own objects and `insideWheel` says whether a resolved path
 * lies inside the extracted wheel: neither is an external dependency.
 */
export function decideAptDependencies(
  libs: readonly (LinkedLibrary & { aliases: string[] })[],
  owners: ReadonlyMap<string, string[]>,
  bundled: ReadonlySet<string>,
  insideWheel: (path: string) => boolean,
): AptDependencies {
  const apt = new Set<string>();
  const orphans = new Set<string>();
  for (const lib of libs) {
    if (bundled.has(lib.soname)) continue;
    if (lib.path === null) {
      orphans.add(lib.soname);
      continue;
    }
    if (lib.aliases.some(insideWheel)) continue;
    const owner = lib.aliases.map((alias) => owners.get(alias)?.[0]).find((name) => name !== undefined);
    if (owner === undefined) orphans.add(lib.path);
    else apt.add(owner);
  }
  return { apt: [...apt].sort(), orphans: [...orphans].sort() };
}

function run(command: string, args: string[], signal?: AbortSignal): Promise<{ code: number; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      command,
      args,
      { signal, timeout: 60_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } },
      (error, stdout) => {
        if (error && signal?.aborted) reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        else if (error && typeof error.code !== 'number') reject(error);
        else resolvePromise({ code: error ? Number(error.code) : 0, stdout });
      },
    );
  });
}

/**
 * Finds the apt dependencies of the ELF objects extracted under `root`.
 * `objects` are their paths; `bundled` the basenames of every shared object
 * the wheel holds.
 */
export async function findAptDependencies(
  root: string,
  objects: readonly string[],
  bundled: ReadonlySet<string>,
  signal?: AbortSignal,
): Promise<AptDependencies> {
  const rootPrefix = resolve(root) + sep;
  const libs: (LinkedLibrary & { aliases: string[] })[] = [];
  const seen = new Set<string>();
  for (const object of objects) {
    const { code, stdout } = await run('ldd', [object], signal);
    // ldd fails on objects it cannot load (another architecture, corrupt): no dependencies to learn.
    if (code !== 0) continue;
    for (const lib of parseLdd(stdout)) {
      const key = `${lib.soname}\0${lib.path ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let resolved: string | undefined;
      if (lib.path !== null) resolved = await realpath(lib.path).catch(() => undefined);
      libs.push({ ...lib, aliases: lib.path === null ? [] : pathAliases(lib.path, resolved) });
    }
  }
  const external = libs.filter(
    (lib) => !bundled.has(lib.soname) && lib.path !== null && !lib.aliases.some((a) => a.startsWith(rootPrefix)),
  );
  const queries = [...new Set(external.flatMap((lib) => lib.aliases))];
  let owners = new Map<string, string[]>();
  if (queries.length > 0) {
    // dpkg -S exits 1 when any path is unowned but still prints the owned ones.
    const { stdout } = await run('dpkg', ['-S', ...queries], signal).catch((error: unknown) => {
      if (signal?.aborted) throw error;
      return { code: 1, stdout: '' };
    });
    owners = parseDpkgSearch(stdout);
  }
  return decideAptDependencies(libs, owners, bundled, (path) => path.startsWith(rootPrefix));
}

