// What the fuzzing and crash campaigns check in a farm's output tree and
// database: file lists with hashes, stray temporary files, and piw-audit.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fg from 'fast-glob';

const REPO = join(fileURLToPath(import.meta.url), '..', '..', '..');

/** Every file and symlink under `areas` of the output tree: path -> SHA-256 (or "-> target" for a link). */
export async function treeHashes(output: string, areas: readonly string[]): Promise<Map<string, string>> {
  const entries = await fg(areas.map((area) => `${area}/**`), { cwd: output, dot: true, onlyFiles: false, followSymbolicLinks: false, objectMode: true });
  const out = new Map<string, string>();
  for (const entry of entries.sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const path = join(output, entry.path);
    if (entry.dirent.isSymbolicLink()) out.set(entry.path, `-> ${readlinkSync(path)}`);
    else if (entry.dirent.isFile()) out.set(entry.path, createHash('sha256').update(readFileSync(path)).digest('hex'));
  }
  return out;
}

/** Temporary files anywhere in the output tree: transfers in progress, page writes cut short, logs still spooled. */
export async function strayTempFiles(output: string): Promise<string[]> {
  return (await fg(['**/.transfer-*', '**/*.tmp', 'logs/.spool/*'], { cwd: output, dot: true, onlyFiles: false, followSymbolicLinks: false })).sort();
}

export interface AuditResult {
  status: number | null;
  problems: string[];
}

/** Runs piw-audit (bin/piw-audit.js) on the farm; its stdout lists one problem a line. */
export async function runAudit(dsn: string, output: string): Promise<AuditResult> {
  const child = spawn(process.execPath, [join(REPO, 'bin', 'piw-audit.js'), '-q', '-d', dsn, '-o', output], { stdio: ['ignore', 'pipe', 'ignore'] });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (stdout += chunk));
  const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { status, problems: stdout.split('\n').filter((line) => line.trim() !== '') };
}

/** The differences between two tree snapshots: paths added, removed and changed. */
export function diffTrees(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): { added: string[]; removed: string[]; changed: string[] } {
  const added = [...after.keys()].filter((path) => !before.has(path));
  const removed = [...before.keys()].filter((path) => !after.has(path));
  const changed = [...before.keys()].filter((path) => after.has(path) && after.get(path) !== before.get(path));
  return { added, removed, changed };
}
