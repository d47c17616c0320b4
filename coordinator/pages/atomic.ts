// File-system primitives for the output tree. Every file is written to a
// temporary name in its own directory and renamed into place, so nginx and
// its clients only ever see a whole old file or a whole new one.
//
// The calls are synchronous on purpose: each is a handful of syscalls taking
// microseconds, while a round trip through libuv's thread pool costs far more
// under load; a package's pages are a few files, so the event loop is held
// for well under a millisecond.
import { threadId } from 'node:worker_threads';
import { lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let written = 0;

/** Unique among every writer of this machine: process, thread and a counter. */
function tempName(path: string): string {
  written += 1;
  return join(dirname(path), `.${basename(path)}.${process.pid}-${threadId}-${written}.tmp`);
}

const TEMP_NAME = /^\..+\.(\d+)-\d+-\d+\.tmp$/;

/** True when no process has this id: the writer died between its write and its rename. */
function writerGone(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes the temp files that writers killed mid-write (SIGKILL, a crash)
 * left in `dir`; a live writer's, this process's or another's, stay.
 * Returns how many went.
 */
export function removeDeadTemps(dir: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (match === null || !writerGone(Number(match[1]))) continue;
    rmSync(join(dir, name), { force: true });
    removed += 1;
  }
  return removed;
}

/** Writes `data` to `path` atomically (temp file + rename, mode 0644). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temp = tempName(path);
  try {
    writeFileSync(temp, data, { mode: 0o644 });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * Makes `dir` a real directory. A symlink in its place (the name used to be an
 * alias of another package) is removed first.
 */
export function ensureRealDir(dir: string): void {
  const stat = lstatSync(dir, { throwIfNoEntry: false });
  if (stat?.isDirectory()) return;
  if (stat) unlinkSync(dir);
  mkdirSync(dir, { recursive: true });
}

/**
 * Points the symlink `link` at `target` (relative), replacing an older link
 * atomically. A real directory already at `link` is left alone: that name is
 * a package of its own. Returns whether the link now points at `target`.
 */
export function symlinkAtomic(target: string, link: string): boolean {
  const stat = lstatSync(link, { throwIfNoEntry: false });
  if (stat && !stat.isSymbolicLink()) return false;
  if (stat && readlinkSync(link) === target) return true;
  const temp = tempName(link);
  symlinkSync(target, temp);
  try {
    renameSync(temp, link);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  return true;
}

/** Removes a symlink if `path` is one; anything else is left alone. */
export function removeSymlink(path: string): boolean {
  if (!lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) return false;
  unlinkSync(path);
  return true;
}

/** Removes a file, ignoring one that is already gone. */
export function removeFile(path: string): boolean {
  if (!lstatSync(path, { throwIfNoEntry: false })) return false;
  unlinkSync(path);
  return true;
}
