// File-system primitives for the output tree. Every file is written to a
// temporary name in its own directory and renamed into place, so nginx and
// its clients only ever see a whole old file or a whole new one.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Writes `data` to `path` atomically (temp file + rename, mode 0644). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = tempName(path);
  try {
    await writeFile(temp, data, { mode: 0o644 });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

/**
 * Makes `dir` a real directory. A symlink in its place (the name used to be an
 * alias of another package) is removed first.
 */
export async function ensureRealDir(dir: string): Promise<void> {
  try {
    const stat = await lstat(dir);
    if (stat.isDirectory()) return;
    await unlink(dir);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  await mkdir(dir, { recursive: true });
}

/**
 * Points the symlink `link` at `target` (relative), replacing an older link
 * atomically. A real directory already at `link` is left alone: that name is
 * a package of its own. Returns whether the link now points at `target`.
 */
export async function symlinkAtomic(target: string, link: string): Promise<boolean> {
  try {
    const stat = await lstat(link);
    if (!stat.isSymbolicLink()) return false;
    if ((await readlink(link)) === target) return true;
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  const temp = tempName(link);
  await symlink(target, temp);
  try {
    await rename(temp, link);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return true;
}

/** Removes a symlink if `path` is one; anything else is left alone. */
export async function removeSymlink(path: string): Promise<boolean> {
  try {
    if (!(await lstat(path)).isSymbolicLink()) return false;
    await unlink(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

/** Removes a file, ignoring one that is already gone. */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}
