// Everything the master needs to know about a built wheel: the filename's
// tags, size, SHA-256, Requires-Python and the whole METADATA (for PEP 658),
// and its dependencies by tool ("apt" packages for its shared libraries,
// "pip" projects it requires, "" libraries no package provides).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { BadWheelError, readWheelMetadata } from './metadata.ts';
import { tryParseWheelFilename } from './name.ts';
import { findAptDependencies } from './apt-deps.ts';
import type { WheelFileFields } from '../build.ts';

export interface InspectedWheel extends WheelFileFields {
  path: string;
  /** The wheel's METADATA file, byte for byte. */
  metadata: Buffer;
  dependencies: { apt: string[]; pip: string[]; '': string[] };
}

export async function sha256File(path: string): Promise<{ hash: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    hash.update(buffer);
  }
  return { hash: hash.digest('hex'), size };
}

/** Zip members that may be shared objects: `*.so` and versioned `*.so.N`. */
export function isSharedObjectName(name: string): boolean {
  return !name.endsWith('/') && (name.endsWith('.so') || basename(name).includes('.so.'));
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/**
 * Extracts the wheel's ELF shared objects under `root`, keeping their paths
 * (so a bundled library found through `$ORIGIN/../<pkg>.libs` still resolves).
 * Returns the extracted paths and the basenames of every shared object inside.
 */
export async function extractSharedObjects(wheel: string, root: string): Promise<{ objects: string[]; bundled: Set<string> }> {
  const zip = await yauzl.openPromise(wheel, { lazyEntries: true, autoClose: false });
  const objects: string[] = [];
  const bundled = new Set<string>();
  try {
    for await (const entry of zip.eachEntry()) {
      if (!isSharedObjectName(entry.fileName)) continue;
      bundled.add(basename(entry.fileName));
      // yauzl has already refused absolute paths and "..": the target stays under root.
      const target = join(root, entry.fileName);
      await mkdir(dirname(target), { recursive: true });
      await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(target));
      const head = Buffer.alloc(4);
      const handle = await open(target, 'r');
      try {
        await handle.read(head, 0, 4, 0);
      } finally {
        await handle.close();
      }
      if (head.equals(ELF_MAGIC)) objects.push(target);
      else await rm(target, { force: true });
    }
  } finally {
    zip.close();
  }
  return { objects, bundled };
}

/** Inspects a wheel; throws BadWheelError for one that cannot be what its name says. */
export async function inspectWheel(path: string, signal?: AbortSignal): Promise<InspectedWheel> {
  const filename = basename(path);
  const name = tryParseWheelFilename(filename);
  if (name === null) throw new BadWheelError(`${filename} is not a valid wheel filename`);
  const { hash, size } = await sha256File(path);
  const metadata = await readWheelMetadata(path, { name: name.distribution, version: name.version });
  const scratch = await mkdtemp(join(tmpdir(), 'piw-inspect-'));
  let apt: string[];
  let orphans: string[];
  try {
    const { objects, bundled } = await extractSharedObjects(path, scratch).catch((error: unknown) => {
      throw new BadWheelError(`cannot extract ${filename}: ${error instanceof Error ? error.message : String(error)}`);
    });
    ({ apt, orphans } = await findAptDependencies(scratch, objects, bundled, signal));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  // Some old wheels say "noabi"; the tag was retired in favour of "none".
  const abiTag = name.abiTag === 'noabi' ? 'none' : name.abiTag;
  return {
    path,
    filename,
    filesize: size,
    filehash: hash,
    packageTag: name.distribution,
    packageVersionTag: name.version,
    pyVersionTag: name.pythonTag,
    abiTag,
    platformTag: name.platformTag,
    requiresPython: metadata.requiresPython,
    metadata: metadata.raw,
    dependencies: { apt, pip: metadata.pipDependencies, '': orphans },
  };
}

