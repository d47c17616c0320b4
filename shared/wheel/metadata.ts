// Reading a wheel's core metadata (`<name>-<version>.dist-info/METADATA`).
// The build slave reports Requires-Python and pip dependencies from it; the
// coordinator and the site keep the whole file to serve as the PEP 658
// `.metadata` companion of the wheel.
import { createHash } from 'node:crypto';
import yauzl from 'yauzl';
import { canonicalizeName } from '../names.ts';

/** A wheel that cannot be read or has no usable METADATA. */
export class BadWheelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadWheelError';
  }
}

/** Core metadata parsed into fields; repeated fields keep every value in order. */
export interface CoreMetadata {
  /** Field name (lower-cased) → values in file order. */
  fields: Map<string, string[]>;
  /** The message body (the long description in metadata 2.1+), or ''. */
  body: string;
}

export interface WheelMetadata {
  /** Path of the METADATA member inside the zip. */
  path: string;
  /** The METADATA file byte for byte (PEP 658 serves exactly these bytes). */
  raw: Buffer;
  /** Lower-case hex SHA-256 of `raw`. */
  sha256: string;
  parsed: CoreMetadata;
  /** Requires-Python, or null when the wheel does not say. */
  requiresPython: string | null;
  /** Canonical names of the mandatory (non-extra) Requires-Dist entries, sorted. */
  pipDependencies: string[];
}

/** METADATA is a few KiB; anything this large is refused rather than inflated. */
export const MAX_METADATA_BYTES = 16 * 1024 * 1024;

/**
 * Parses core metadata (RFC 822 style headers, then an optional body).
 * Continuation lines start with whitespace and are joined with a newline, as
 * Python's email parser does.
 */
export function parseCoreMetadata(text: string): CoreMetadata {
  const fields = new Map<string, string[]>();
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let current: { name: string; value: string } | null = null;
  const flush = (): void => {
    if (current === null) return;
    const list = fields.get(current.name) ?? [];
    list.push(current.value);
    fields.set(current.name, list);
    current = null;
  };
  let index = 0;
  for (; index < lines.length; index++) {
    const line = lines[index] ?? '';
    if (line === '') {
      index++;
      break;
    }
    if (/^[ \t]/.test(line)) {
      // A continuation of the previous field; ignore one before any field.
      if (current !== null) current.value += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      // Not a header: the headers ended without a blank line.
      break;
    }
    flush();
    current = { name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() };
  }
  flush();
  const body = lines.slice(index).join('\n');
  return { fields, body };
}

/** The first value of a field, or null. */
export function metadataField(metadata: CoreMetadata, name: string): string | null {
  return metadata.fields.get(name.toLowerCase())?.[0] ?? null;
}

const REQUIREMENT_NAME = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(.*)$/s;

/**
 * The project a Requires-Dist entry names, canonicalised, or null when the
 * entry is malformed or only applies to an extra (optional dependencies are
 * not what a user needs to install the wheel).
 */
export function mandatoryRequirement(requirement: string): string | null {
  const match = REQUIREMENT_NAME.exec(requirement);
  if (match === null) return null;
  const [, name = '', rest = ''] = match;
  if (name.length > 255) return null;
  // What may follow a name: extras, a version spec or URL, then a marker.
  if (rest !== '' && !/^[[(<>=!~;@]/.test(rest)) return null;
  const semicolon = rest.indexOf(';');
  if (semicolon >= 0 && /\bextra\b/.test(rest.slice(semicolon + 1))) return null;
  return canonicalizeName(name);
}

/** Canonical names of the mandatory dependencies, de-duplicated and sorted. */
export function pipDependencies(metadata: CoreMetadata): string[] {
  const names = new Set<string>();
  for (const value of metadata.fields.get('requires-dist') ?? []) {
    const name = mandatoryRequirement(value);
    if (name !== null) names.add(name);
  }
  return [...names].sort();
}

/**
 * Chooses the METADATA member among a zip's entry names: the one in a
 * top-level `*.dist-info/` folder; when a (malformed) wheel has several, the
 * one whose folder matches the expected project name and version.
 */
export function chooseMetadataPath(
  entries: readonly string[],
  expected?: { name: string; version: string },
): string {
  const candidates = entries.filter((entry) => /^[^/]+\.dist-info\/METADATA$/.test(entry));
  if (candidates.length === 1 && candidates[0] !== undefined) return candidates[0];
  if (candidates.length > 1 && expected !== undefined) {
    const want = `${canonicalizeName(expected.name)}-${expected.version}`;
    const match = candidates.find((entry) => {
      const folder = entry.slice(0, -'.dist-info/METADATA'.length);
      const dash = folder.lastIndexOf('-');
      return dash > 0 && `${canonicalizeName(folder.slice(0, dash))}-${folder.slice(dash + 1)}` === want;
    });
    if (match !== undefined) return match;
  }
  if (candidates.length === 0) throw new BadWheelError('no *.dist-info/METADATA in the wheel');
  throw new BadWheelError(`several METADATA files in the wheel: ${candidates.join(', ')}`);
}

/** Builds the full result from the METADATA bytes. */
export function wheelMetadataFromBytes(path: string, raw: Buffer): WheelMetadata {
  const parsed = parseCoreMetadata(raw.toString('utf8'));
  if (!parsed.fields.has('metadata-version') && !parsed.fields.has('name')) {
    throw new BadWheelError(`${path} is not core metadata (no Metadata-Version or Name)`);
  }
  return {
    path,
    raw,
    sha256: createHash('sha256').update(raw).digest('hex'),
    parsed,
    requiresPython: metadataField(parsed, 'Requires-Python'),
    pipDependencies: pipDependencies(parsed),
  };
}

async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  if (entry.uncompressedSize > MAX_METADATA_BYTES) {
    throw new BadWheelError(`${entry.fileName} is ${entry.uncompressedSize} bytes; refusing more than ${MAX_METADATA_BYTES}`);
  }
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > MAX_METADATA_BYTES) {
      stream.destroy();
      throw new BadWheelError(`${entry.fileName} inflates past ${MAX_METADATA_BYTES} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads the core metadata of a wheel given as a file path or its bytes.
 * Throws BadWheelError when the zip is unreadable or holds no METADATA.
 */
export async function readWheelMetadata(
  wheel: string | Buffer,
  expected?: { name: string; version: string },
): Promise<WheelMetadata> {
  let zip: yauzl.ZipFile;
  try {
    const options = { lazyEntries: true, autoClose: false, strictFileNames: false };
    zip = typeof wheel === 'string' ? await yauzl.openPromise(wheel, options) : await yauzl.fromBufferPromise(wheel, options);
  } catch (error) {
    throw new BadWheelError(`not a readable zip: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    const entries = new Map<string, yauzl.Entry>();
    try {
      for await (const entry of zip.eachEntry()) entries.set(entry.fileName, entry);
    } catch (error) {
      throw new BadWheelError(`corrupt zip directory: ${error instanceof Error ? error.message : String(error)}`);
    }
    const path = chooseMetadataPath([...entries.keys()], expected);
    const entry = entries.get(path);
    if (entry === undefined) throw new BadWheelError(`no ${path} in the wheel`);
    let raw: Buffer;
    try {
      raw = await readEntry(zip, entry);
    } catch (error) {
      if (error instanceof BadWheelError) throw error;
      throw new BadWheelError(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    return wheelMetadataFromBytes(path, raw);
  } finally {
    zip.close();
  }
}
