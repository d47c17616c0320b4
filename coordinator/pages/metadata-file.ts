// PEP 658 companions: `<wheel>.metadata` beside each wheel, holding the
// wheel's METADATA byte for byte, so pip can resolve without the whole wheel.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { BadWheelError, readWheelMetadata } from '../../shared/wheel/metadata.ts';
import { writeFileAtomic } from './atomic.ts';

/** Writes `<wheelPath>.metadata` (atomically) with the wheel's METADATA bytes. */
export function writeMetadataFile(wheelPath: string, metadata: Uint8Array): void {
  writeFileAtomic(`${wheelPath}.metadata`, metadata);
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
  if (existsSync(metadataPath)) {
    if (knownHash !== null) return knownHash;
    return createHash('sha256').update(readFileSync(metadataPath)).digest('hex');
  }
  if (!existsSync(wheelPath)) return null;
  try {
    const metadata = await readWheelMetadata(wheelPath);
    writeMetadataFile(wheelPath, metadata.raw);
    return metadata.sha256;
  } catch (error) {
    if (error instanceof BadWheelError) return null;
    throw error;
  }
}
