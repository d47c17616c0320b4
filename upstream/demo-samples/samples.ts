// The sample projects of the offline demo farm, beside this file, and the
// source distributions made from them: `<name>-<version>.tar.gz` holding
// `<name>-<version>/` with the project and a PKG-INFO. The tarballs are
// reproducible (sorted members, fixed owner and mtime, gzip without a
// timestamp), so a restarted demo serves the very same files.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';

export const DEMO_SAMPLES_DIR = dirname(fileURLToPath(import.meta.url));

/** The samples and what each one shows. The first is the one to try installing. */
export const DEMO_SAMPLES = {
  'piwdemo-hello': 'pure Python: a py3-none-any wheel',
  'piwdemo-fastsum': 'a C extension: a platform wheel',
  'piwdemo-broken': 'setup.py fails: a failed build with its log',
} as const;
export type DemoSample = keyof typeof DEMO_SAMPLES;

const pyprojectSchema = z.object({
  project: z.object({ name: z.string().min(1), version: z.string().min(1), description: z.string().optional(), 'requires-python': z.string().optional() }),
});

export interface DemoSdist {
  name: string;
  version: string;
  summary: string | null;
  filename: string;
  path: string;
}

/** A version string that is safe in a filename and a PEP 440 release. */
export function isDemoVersion(version: string): boolean {
  return /^\d+(\.\d+)*([ab]\d+|rc\d+)?(\.post\d+)?(\.dev\d+)?$/.test(version);
}

/** Writes the sdist of `sample` (at `version`, default the pyproject's) into `outDir`. */
export function writeDemoSdist(sample: DemoSample, outDir: string, version?: string): DemoSdist {
  const source = join(DEMO_SAMPLES_DIR, sample);
  const pyproject = readFileSync(join(source, 'pyproject.toml'), 'utf8');
  const project = pyprojectSchema.parse(parseToml(pyproject)).project;
  const finalVersion = version ?? project.version;
  if (!isDemoVersion(finalVersion)) throw new Error(`not a usable sample version: ${JSON.stringify(finalVersion)}`);
  const base = `${project.name}-${finalVersion}`;
  const staging = mkdtempSync(join(tmpdir(), 'piw-demo-sdist-'));
  try {
    const root = join(staging, base);
    cpSync(source, root, { recursive: true, filter: (path) => !/(__pycache__|\.egg-info|\/build$|\/dist$)/.test(path) });
    writeFileSync(join(root, 'pyproject.toml'), pyproject.replace(/^version = ".*"$/m, `version = "${finalVersion}"`));
    const pkgInfo = [
      'Metadata-Version: 2.1',
      `Name: ${project.name}`,
      `Version: ${finalVersion}`,
      ...(project.description ? [`Summary: ${project.description}`] : []),
      ...(project['requires-python'] ? [`Requires-Python: ${project['requires-python']}`] : []),
      '',
    ].join('\n');
    writeFileSync(join(root, 'PKG-INFO'), pkgInfo);
    const tar = execFileSync(
      'tar',
      ['--sort=name', '--mtime=@946684800', '--owner=0', '--group=0', '--numeric-owner', '-C', staging, '-cf', '-', base],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    const filename = `${base}.tar.gz`;
    const path = join(outDir, filename);
    writeFileSync(path, gzipSync(tar, { level: 9 }));
    return { name: project.name, version: finalVersion, summary: project.description ?? null, filename, path };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Writes every sample's sdist into `outDir`. */
export function writeDemoSdists(outDir: string): DemoSdist[] {
  return (Object.keys(DEMO_SAMPLES) as DemoSample[]).map((sample) => writeDemoSdist(sample, outDir));
}
