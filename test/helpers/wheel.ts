// Writes a real, installable pure-Python wheel with Python's own zipfile
// module: METADATA, WHEEL and a RECORD with correct hashes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const SCRIPT = String.raw`
import base64, hashlib, os, sys, zipfile
out, dist, version, tag, requires_python, pad = sys.argv[1:7]
name = dist.replace('_', '-')
info = f'{dist}-{version}.dist-info'
files = {
    f'{dist}/__init__.py': f'VERSION = {version!r}\n',
    f'{info}/METADATA': 'Metadata-Version: 2.1\nName: ' + name + '\nVersion: ' + version + '\nSummary: a test package\n' + (f'Requires-Python: {requires_python}\n' if requires_python else '') + '\nA package for testing the index.\n',
    f'{info}/WHEEL': 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: ' + tag + '\n',
}
if int(pad):
    files[f'{dist}/blob.bin'] = os.urandom(int(pad))
def raw(c):
    return c if isinstance(c, bytes) else c.encode()
def digest(data):
    return 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
record = ''.join(f'{p},{digest(raw(c))},{len(raw(c))}\n' for p, c in files.items()) + f'{info}/RECORD,,\n'
files[f'{info}/RECORD'] = record
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for p, c in files.items():
        z.writestr(p, c)
`;

export interface BuiltWheel {
  filename: string;
  path: string;
  bytes: Buffer;
  sha256: string;
  metadata: Buffer;
}

export async function buildWheel(
  dir: string,
  dist: string,
  version: string,
  /** padBytes: random bytes stored in the wheel, for transfers that take a while */
  options: { tag?: string; requiresPython?: string; padBytes?: number } = {},
): Promise<BuiltWheel> {
  await mkdir(dir, { recursive: true });
  const tag = options.tag ?? 'py3-none-any';
  const filename = `${dist}-${version}-${tag}.whl`;
  const path = join(dir, filename);
  execFileSync('/usr/bin/python3', ['-c', SCRIPT, path, dist, version, tag, options.requiresPython ?? '', String(options.padBytes ?? 0)]);
  const bytes = await readFile(path);
  const metadata = Buffer.from(
    `Metadata-Version: 2.1\nName: ${dist.replace(/_/g, '-')}\nVersion: ${version}\nSummary: a test package\n` +
      (options.requiresPython ? `Requires-Python: ${options.requiresPython}\n` : '') +
      '\nA package for testing the index.\n',
  );
  return { filename, path, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), metadata };
}
