// Allow-list mode for private farms: a text file names the packages to build,
// one per line, either bare names or requirement lines as pip reads them
// ("numpy>=1.26", "requests[socks]==2.31 ; python_version>'3.8'"). Blank
// lines, comments and pip options ("-r", "--index-url") are ignored.
// Everything else PyPI announces is still recorded, skipped with the reason
// NOT_ALLOWED. The file is re-read when its modification time changes, so an
// edit takes effect without a restart.
import { stat, readFile } from 'node:fs/promises';
import { canonicalizeName } from '../../shared/names.ts';

export const NOT_ALLOWED = 'not in allow-list';

export interface ParsedAllowList {
  /** Canonical names. */
  names: Set<string>;
  /** Lines that name no package, with their 1-based line number. */
  problems: Array<{ line: number; text: string }>;
}

const REQUIREMENT = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*(?:[<>=!~;@(]|$)/;

export function parseAllowList(text: string): ParsedAllowList {
  const names = new Set<string>();
  const problems: ParsedAllowList['problems'] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '' || line.startsWith('-')) return;
    const match = REQUIREMENT.exec(line);
    if (match === null) problems.push({ line: index + 1, text: raw });
    else names.add(canonicalizeName(match[1] as string));
  });
  return { names, problems };
}

/** The list as of the file's last change; `refresh()` re-reads it when the file changed. */
export class AllowList {
  private names = new Set<string>();
  private mtimeMs = -1;
  private size = -1;

  constructor(readonly path: string) {}

  allows(pkg: string): boolean {
    return this.names.has(pkg);
  }

  get packages(): ReadonlySet<string> {
    return this.names;
  }

  /**
   * Re-reads the file if it changed since the last read. Returns the parse
   * result when it did (the caller logs problems and reconciles), null when
   * it did not. A missing or unreadable file throws; the last list stays.
   */
  async refresh(): Promise<ParsedAllowList | null> {
    const info = await stat(this.path);
    if (info.mtimeMs === this.mtimeMs && info.size === this.size) return null;
    const parsed = parseAllowList(await readFile(this.path, 'utf8'));
    this.names = parsed.names;
    this.mtimeMs = info.mtimeMs;
    this.size = info.size;
    return parsed;
  }
}

/**
 * The skip changes an allow-list asks of stored packages: allowed ones
 * skipped only for not being on the list are un-skipped; unlisted ones not
 * skipped for another reason are skipped.
 */
export function allowListChanges(
  stored: Iterable<{ package: string; skip: string }>,
  allowed: ReadonlySet<string>,
): Array<{ package: string; skip: string }> {
  const out: Array<{ package: string; skip: string }> = [];
  for (const { package: pkg, skip } of stored) {
    if (allowed.has(pkg) && skip === NOT_ALLOWED) out.push({ package: pkg, skip: '' });
    else if (!allowed.has(pkg) && skip === '') out.push({ package: pkg, skip: NOT_ALLOWED });
  }
  return out;
}
