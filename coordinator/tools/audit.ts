// piw-audit: compares the output tree with the database and reports what
// disagrees: wheels the database lists but the tree lacks (or holds with
// another SHA-256), wheels in the tree the database does not know, packages
// without their project page (or, with a wheel, their index page), index
// pages of packages with no wheel (the index leaves those out), builds
// without a log, and symlinks that lead nowhere. With --fix it repairs what
// it safely can: rewrites missing and extra pages, removes unknown wheels and
// dangling links. Wheels that are
// missing or corrupt, and missing logs, are only reported (re-queue them
// with piw-remove --builds).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import fg from 'fast-glob';
import { z } from 'zod';
import { defaultDsn, openDatabase, type Database } from '../../shared/db/index.ts';
import type { Logger } from '../../shared/log.ts';
import { logPathParts } from '../../site/lib/views.ts';
import { Scribe } from '../pages/scribe.ts';
import { toolConfig, toolLogger, withCommonOptions, type CommonFlags } from './common.ts';

const settings = z.object({
  dsn: z.string().min(1).default(defaultDsn()),
  outputPath: z.string().min(1).default('/var/www'),
});

export type ProblemKind = 'missing-wheel' | 'wrong-hash' | 'extra-wheel' | 'missing-page' | 'extra-page' | 'missing-log' | 'dangling-link';

export interface Problem {
  kind: ProblemKind;
  path: string;
  package?: string;
  detail?: string;
}

/** What the database says should be in the tree. */
export interface Expected {
  /** package -> filename -> SHA-256 */
  wheels: Map<string, Map<string, string>>;
  /** every known spelling that may be a directory or link under simple/ and project/ */
  names: Set<string>;
  buildIds: number[];
}

/** What a walk of the tree found. */
export interface Found {
  /** package directory -> wheel filenames in it (real files and links) */
  wheels: Map<string, Set<string>>;
  pages: Set<string>;
  logs: Set<number>;
  danglingLinks: string[];
}

/** The differences between expectation and tree (hashes are checked separately). */
export function compareTree(expected: Expected, found: Found, packages: Iterable<string>): Problem[] {
  const problems: Problem[] = [];
  for (const [pkg, files] of expected.wheels) {
    const present = found.wheels.get(pkg) ?? new Set<string>();
    for (const filename of [...files.keys()].sort()) {
      if (!present.has(filename)) problems.push({ kind: 'missing-wheel', path: join('simple', pkg, filename), package: pkg });
    }
  }
  for (const [pkg, present] of [...found.wheels].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const known = expected.wheels.get(pkg);
    for (const filename of [...present].sort()) {
      if (!known?.has(filename)) problems.push({ kind: 'extra-wheel', path: join('simple', pkg, filename), package: pkg });
    }
  }
  for (const pkg of [...packages].sort()) {
    const project = join('project', pkg, 'index.html');
    if (!found.pages.has(project)) problems.push({ kind: 'missing-page', path: project, package: pkg });
    // only a package with a wheel has an index page
    const simple = join('simple', pkg, 'index.html');
    const published = (expected.wheels.get(pkg)?.size ?? 0) > 0;
    if (published && !found.pages.has(simple)) problems.push({ kind: 'missing-page', path: simple, package: pkg });
    if (!published && found.pages.has(simple)) problems.push({ kind: 'extra-page', path: simple, package: pkg });
  }
  for (const id of expected.buildIds) {
    if (!found.logs.has(id)) problems.push({ kind: 'missing-log', path: join('logs', ...logPathParts(id)), detail: `build ${id}` });
  }
  for (const link of found.danglingLinks) problems.push({ kind: 'dangling-link', path: link });
  return problems;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Entries of the output tree matching `patterns`, sorted by path. Symlinks
 * are listed as links, never followed: package aliases are links to their
 * canonical directory, which is walked under its own name.
 */
async function entries(output: string, patterns: string[]): Promise<fg.Entry[]> {
  const found = await fg(patterns, { cwd: output, dot: true, onlyFiles: false, followSymbolicLinks: false, objectMode: true, suppressErrors: true });
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Walks simple/, project/ and logs/ under the output path. */
export async function walkTree(output: string): Promise<Found> {
  const found: Found = { wheels: new Map(), pages: new Set(), logs: new Set(), danglingLinks: [] };
  for (const area of ['simple', 'project']) {
    const packages = new Set<string>();
    for (const entry of await entries(output, [`${area}/*`, `${area}/*/index.html`, ...(area === 'simple' ? [`${area}/*/*.whl`] : [])])) {
      const [, name, file] = entry.path.split('/') as [string, string, string | undefined];
      const link = entry.dirent.isSymbolicLink();
      const live = !link || (await exists(join(output, entry.path)));
      if (file === undefined) {
        if (link && !live) found.danglingLinks.push(entry.path);
        if (link || !entry.dirent.isDirectory()) continue;
        packages.add(name);
        if (area === 'simple') found.wheels.set(name, new Set());
      } else if (!packages.has(name)) {
        continue;
      } else if (file === 'index.html') {
        if (live) found.pages.add(entry.path);
      } else if (live) {
        found.wheels.get(name)?.add(file);
      } else {
        found.danglingLinks.push(entry.path);
      }
    }
  }
  // Log directories are followed wherever they lead: only the names matter.
  const logs = await fg('logs/*/*/*.txt.gz', { cwd: output, dot: true, suppressErrors: true, onlyFiles: false });
  for (const path of logs) {
    const m = /^logs\/(\d{4})\/(\d{4})\/(\d{4})\.txt\.gz$/.exec(path);
    if (m) found.logs.add(Number(`${m[1]}${m[2]}${m[3]}`));
  }
  return found;
}

/** The rows the audit compares with (read in three queries, whatever the farm's size). */
export async function readExpected(db: Database): Promise<Expected> {
  return { wheels: await db.getWheelHashes(), names: await db.getAllPackageNames(), buildIds: await db.getBuildIds() };
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Wheels present in the tree whose content does not hash to what the database holds. */
async function checkHashes(output: string, expected: Expected, found: Found, progress: boolean): Promise<Problem[]> {
  const todo: Array<[string, string, string]> = [];
  for (const [pkg, files] of expected.wheels) {
    const present = found.wheels.get(pkg);
    for (const [filename, hash] of files) if (present?.has(filename)) todo.push([pkg, filename, hash]);
  }
  const bar = progress ? new cliProgress.SingleBar({ format: 'hashing [{bar}] {value}/{total} wheels' }, cliProgress.Presets.shades_classic) : null;
  bar?.start(todo.length, 0);
  const problems: Problem[] = [];
  try {
    for (const [pkg, filename, hash] of todo) {
      const actual = await sha256(join(output, 'simple', pkg, filename));
      if (actual !== hash) problems.push({ kind: 'wrong-hash', path: join('simple', pkg, filename), package: pkg, detail: `${actual}, database has ${hash}` });
      bar?.increment();
    }
  } finally {
    bar?.stop();
  }
  return problems;
}

const DESCRIPTIONS: Readonly<Record<ProblemKind, string>> = {
  'missing-wheel': 'wheel in the database, missing from the tree',
  'wrong-hash': 'wheel whose SHA-256 differs from the database',
  'extra-wheel': 'wheel in the tree, unknown to the database',
  'missing-page': 'package page missing',
  'extra-page': 'index page of a package with no wheel',
  'missing-log': 'build log missing',
  'dangling-link': 'symlink to nothing',
};

/** Repairs what can be repaired without guessing; returns the problems fixed. */
async function fix(problems: Problem[], output: string, db: Database, logger: Logger): Promise<Set<Problem>> {
  const fixed = new Set<Problem>();
  let scribe: Scribe | undefined;
  const rewritten = new Set<string>();
  for (const p of problems) {
    if (p.kind === 'extra-wheel' || p.kind === 'dangling-link') {
      await unlink(join(output, p.path));
      await unlink(join(output, `${p.path}.metadata`)).catch(() => undefined);
      logger.info({ path: p.path }, `removed ${p.path}`);
      fixed.add(p);
    } else if ((p.kind === 'missing-page' || p.kind === 'extra-page') && p.package !== undefined) {
      if (!rewritten.has(p.package)) {
        scribe ??= await Scribe.create({ output, db, logger });
        const data = await db.getProjectData(p.package);
        if (data === null) continue;
        await scribe.writeProject(data, { both: true });
        rewritten.add(p.package);
        logger.info({ package: p.package }, `rewrote the pages of ${p.package}`);
      }
      fixed.add(p);
    }
  }
  return fixed;
}

function program(): Command {
  return withCommonOptions(new Command('piw-audit'))
    .description(
      'Compare the output tree with the database: missing or extra wheels, wheels with the wrong SHA-256, packages without ' +
        'pages, builds without logs, dangling symlinks. Exit status 1 when problems remain. With --fix, rewrite missing pages and ' +
        'remove unknown wheels and dangling links; missing or corrupt wheels and missing logs are left to piw-remove --builds.',
    )
    .option('-d, --dsn <DSN>', `the database (default: ${defaultDsn()}; env PIW_DSN)`)
    .option('-o, --output-path <PATH>', 'the output tree (default: /var/www; env PIW_OUTPUT_PATH)')
    .option('--no-hashes', 'skip reading every wheel to check its SHA-256')
    .option('--fix', 'repair what can be repaired safely');
}

interface AuditFlags extends CommonFlags {
  dsn?: string;
  outputPath?: string;
  hashes: boolean;
  fix?: boolean;
}

export async function main(argv: string[]): Promise<number> {
  const command = program();
  command.parse(argv);
  const opts = command.opts<AuditFlags>();
  const logger = toolLogger('piw-audit', opts);
  const config = toolConfig(settings, 'audit', { dsn: opts.dsn, outputPath: opts.outputPath }, opts.configuration);
  const db = await openDatabase(config.dsn);
  try {
    const expected = await readExpected(db);
    const packages = await db.getAllPackages();
    const found = await walkTree(config.outputPath);
    const problems = compareTree(expected, found, packages);
    if (opts.hashes) problems.push(...(await checkHashes(config.outputPath, expected, found, process.stderr.isTTY === true)));
    const fixed = opts.fix ? await fix(problems, config.outputPath, db, logger) : new Set<Problem>();
    const remaining = problems.filter((p) => !fixed.has(p));
    for (const p of problems) {
      const state = fixed.has(p) ? ' (fixed)' : '';
      process.stdout.write(`${p.kind}\t${p.path}${p.detail ? `\t${p.detail}` : ''}${state}\n`);
    }
    const counts = new Map<ProblemKind, number>();
    for (const p of remaining) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1);
    const summary = [...counts].map(([kind, n]) => `${n} ${DESCRIPTIONS[kind]}`).join('; ');
    logger.info(
      { packages: packages.size, builds: expected.buildIds.length, problems: problems.length, fixed: fixed.size },
      remaining.length === 0 ? `tree and database agree${fixed.size > 0 ? ` after ${fixed.size} fixes` : ''}` : `${remaining.length} problems remain: ${summary}`,
    );
    return remaining.length === 0 ? 0 : 1;
  } finally {
    await db.close();
  }
}
