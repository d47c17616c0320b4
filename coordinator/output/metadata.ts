// PEP 658 companions: `<wheel>.metadata` beside each wheel, holding the
// wheel's METADATA byte for byte, so pip can resolve without the whole wheel.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { BadWheelError, readWheelMetadata } from '../../shared/wheel-metadata.ts';
import { writeFileAtomic } from './atomic.ts';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure `<wheelPath>.metadata` exists when the wheel does, extracting it
 * if needed, and returns the SHA-256 to advertise: `knownHash` when the
 * database has one and the file was already there, else the file's own hash.
 * Returns null when there is nothing to serve (no wheel on disk, or a wheel
 * without readable metadata).
 */
export async function ensureMetadataFile(wheelPath: string, knownHash: string | null): Promise<string | null> {
  const metadataPath = `${wheelPath}.metadata`;
  if (await exists(metadataPath)) {
    if (knownHash !== null) return knownHash;
    return createHash('sha256').update(await readFile(metadataPath)).digest('hex');
  }
  if (!(await exists(wheelPath))) return null;
  try {
    const metadata = await readWheelMetadata(wheelPath);
    await writeFileAtomic(metadataPath, metadata.raw);
    return metadata.sha256;
  } catch (error) {
    if (error instanceof BadWheelError) return null;
    throw error;
  }
}
