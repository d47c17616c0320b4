// Naming the Debian package a failed build lacked, in pure steps: find the
// missing header, library or pkg-config module in the compiler's words, turn
// it into a path pattern for Debian's file index (apt-file search -x, or a
// Contents file), and pick one package from the index's answer. The lookup
// itself is in debian-index.ts.
import { MissingDependencySchema, type MissingDependency } from '../../shared/failure.ts';

const PATTERNS: ReadonlyArray<[MissingDependency['kind'], RegExp]> = [
  // gcc / clang: "foo.c:1:10: fatal error: zstd.h: No such file or directory", clang quotes the name
  ['header', /fatal error: '?([^\s':]+\.(?:h|hh|hpp|hxx|H))'?(?::| file not found)(?: No such file or directory)?/],
  // ld: "/usr/bin/ld: cannot find -lzstd" (newer binutils add ": No such file or directory")
  ['library', /\bld(?:\.\w+)?: cannot find -l([A-Za-z0-9_+.-]+)/],
  // pkg-config / pkgconf
  ['pkg-config', /Package '([A-Za-z0-9_+.-]+)',? (?:required by '[^']*', )?not found/],
  ['pkg-config', /Package ([A-Za-z0-9_+.-]+) was not found in the pkg-config search path/],
  ['pkg-config', /No package '([A-Za-z0-9_+.-]+)' found/],
];

/** The first native dependency the log says is missing, or null. */
export function findMissingDependency(log: string): MissingDependency | null {
  let first: { at: number; found: MissingDependency } | null = null;
  for (const [kind, re] of PATTERNS) {
    const match = re.exec(log);
    if (!match || match[1] === undefined) continue;
    const parsed = MissingDependencySchema.safeParse({ kind, name: match[1] });
    if (!parsed.success) continue;
    if (first === null || match.index < first.at) first = { at: match.index, found: parsed.data };
  }
  return first?.found ?? null;
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A POSIX extended regular expression for the files that would have
 * satisfied the dependency, as paths in Debian's Contents index (no leading
 * slash). Multiarch directories are allowed for.
 */
export function contentsPattern(missing: MissingDependency): string {
  const name = escapeRegex(MissingDependencySchema.parse(missing).name);
  switch (missing.kind) {
    case 'header':
      return `^usr/include/([^/]+/)*${name}$`;
    case 'library':
      return `^usr/lib/([^/]+/)*lib${name}\\.(so|a)$`;
    case 'pkg-config':
      return `^usr/(lib|share)/([^/]+/)*pkgconfig/${name}\\.pc$`;
  }
}

/**
 * One Debian package from `apt-file search` output ("pkg: /path" lines),
 * or null. Development packages first (they carry headers, .so links and
 * .pc files), then the file nearest the top of the include tree (zstd.h
 * rather than some/vendored/zstd.h), then the shortest name, then by name,
 * so the answer is stable.
 */
export function pickDebianPackage(output: string): string | null {
  const candidates: Array<{ pkg: string; depth: number }> = [];
  for (const line of output.split('\n')) {
    const match = /^([a-z0-9][a-z0-9+.-]*(?:, ?[a-z0-9][a-z0-9+.-]*)*): (\/?\S+)$/.exec(line.trim());
    if (!match) continue;
    const depth = (match[2] as string).split('/').length;
    for (const pkg of (match[1] as string).split(/, ?/)) candidates.push({ pkg, depth });
  }
  candidates.sort(
    (a, b) =>
      Number(b.pkg.endsWith('-dev')) - Number(a.pkg.endsWith('-dev')) ||
      a.depth - b.depth ||
      a.pkg.length - b.pkg.length ||
      (a.pkg < b.pkg ? -1 : a.pkg > b.pkg ? 1 : 0),
  );
  return candidates[0]?.pkg ?? null;
}

/** The same answer from lines of a Contents file ("path   section/pkg,section/pkg2"). */
export function contentsLineToApt(line: string): string | null {
  const match = /^(\S+)\s+(\S+)$/.exec(line.trim());
  if (!match) return null;
  const pkgs = (match[2] as string).split(',').map((p) => p.slice(p.lastIndexOf('/') + 1));
  return `${pkgs.join(', ')}: /${match[1] as string}`;
}
