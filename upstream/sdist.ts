// Source distributions made from a project folder: `<name>-<version>.tar.gz`
// holding a top-level `<name>-<version>/` folder with the project and a
// PKG-INFO, as `python -m build --sdist` lays them out. The tarballs are
// byte-for-byte reproducible (sorted members, fixed owner and mtime, gzip
// without a timestamp), so the same project always gives the very same file.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';

export interface ProjectMetadata {
  name: string;
  version: string;
  summary: string | null;
  requiresPython: string | null;
}

export interface Sdist {
  name: string;
  version: string;
  summary: string | null;
  filename: string;
  path: string;
}

const pyprojectSchema = z.object({
  project: z.object({
    name: z.string().min(1),
    version: z.string().min(1),
    description: z.string().optional(),
    'requires-python': z.string().optional(),
  }),
});

/** The [metadata] table of a setup.cfg (for projects without pyproject.toml). */
export function setupCfgMetadata(text: string): ProjectMetadata {
  const values = new Map<string, string>();
  let section = '';
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]\s*$/.exec(line);
    if (header?.[1] !== undefined) section = header[1];
    const pair = /^([\w-]+)\s*=\s*(.*)$/.exec(line);
    if (section === 'metadata' && pair?.[1] !== undefined) values.set(pair[1], (pair[2] ?? '').trim());
  }
  const name = values.get('name');
  const version = values.get('version');
  if (!name || !version) throw new Error('setup.cfg [metadata] needs name and version');
  return { name, version, summary: values.get('description') || null, requiresPython: values.get('python_requires') || null };
}

/** The project's name and version as its pyproject.toml (or else setup.cfg) declares them. */
export function readProjectMetadata(dir: string): ProjectMetadata {
  if (!existsSync(join(dir, 'pyproject.toml'))) return setupCfgMetadata(readFileSync(join(dir, 'setup.cfg'), 'utf8'));
  const project = pyprojectSchema.parse(parseToml(readFileSync(join(dir, 'pyproject.toml'), 'utf8'))).project;
  return { name: project.name, version: project.version, summary: project.description || null, requiresPython: project['requires-python'] || null };
}

/** The PKG-INFO of an sdist: what an index and pip read without building. */
export function pkgInfo(project: ProjectMetadata): string {
  return [
    'Metadata-Version: 2.1',
    `Name: ${project.name}`,
    `Version: ${project.version}`,
    ...(project.summary ? [`Summary: ${project.summary}`] : []),
    ...(project.requiresPython ? [`Requires-Python: ${project.requiresPython}`] : []),
    '',
  ].join('\n');
}

/**
 * Writes the sdist of the project in `source` into `outDir` and returns
 * where. `project` is its metadata, as readProjectMetadata gives it or with
 * another version (to publish several releases of one project); that version
 * is written into the copy's pyproject.toml or setup.cfg.
 */
export function writeSdist(source: string, outDir: string, project: ProjectMetadata): Sdist {
  // the version names the file and the folder inside it: nothing that could leave outDir
  if (!/^[A-Za-z0-9.+!_]+$/.test(project.version)) throw new Error(`not a usable version: ${JSON.stringify(project.version)}`);
  const base = `${project.name}-${project.version}`;
  const staging = mkdtempSync(join(tmpdir(), 'piw-sdist-'));
  try {
    const root = join(staging, base);
    cpSync(source, root, { recursive: true, filter: (path) => !/(__pycache__|\.egg-info|\/build$|\/dist$)/.test(path) });
    for (const [file, pattern, line] of [
      ['pyproject.toml', /^version = ".*"$/m, `version = "${project.version}"`],
      ['setup.cfg', /^version = .*$/m, `version = ${project.version}`],
    ] as const) {
      const path = join(root, file);
      if (existsSync(path)) writeFileSync(path, readFileSync(path, 'utf8').replace(pattern, line));
    }
    writeFileSync(join(root, 'PKG-INFO'), pkgInfo(project));
    const tar = execFileSync(
      'tar',
      ['--sort=name', '--mtime=@946684800', '--owner=0', '--group=0', '--numeric-owner', '-C', staging, '-cf', '-', base],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    const filename = `${base}.tar.gz`;
    const path = join(outDir, filename);
    writeFileSync(path, gzipSync(tar, { level: 9 }));
    return { name: project.name, version: project.version, summary: project.summary, filename, path };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
