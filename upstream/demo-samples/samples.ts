// The sample projects of the offline demo farm, beside this file, and the
// source distributions made from them. The tarballs are reproducible, so a
// restarted demo serves the very same files.
import { join } from 'node:path';
import { repoPath } from '../../shared/paths.ts';
import { readProjectMetadata, writeSdist, type Sdist } from '../sdist.ts';

export const DEMO_SAMPLES_DIR = repoPath('upstream', 'demo-samples');

/** The samples and what each one shows. The first is the one to try installing. */
export const DEMO_SAMPLES = {
  'piwdemo-hello': 'pure Python: a py3-none-any wheel',
  'piwdemo-fastsum': 'a C extension: a platform wheel',
  'piwdemo-broken': 'setup.py fails: a failed build with its log',
} as const;
export type DemoSample = keyof typeof DEMO_SAMPLES;

/** A version string that is safe in a filename and a PEP 440 release. */
export function isDemoVersion(version: string): boolean {
  return /^\d+(\.\d+)*([ab]\d+|rc\d+)?(\.post\d+)?(\.dev\d+)?$/.test(version);
}

/** Writes the sdist of `sample` (at `version`, default the pyproject's) into `outDir`. */
export function writeDemoSdist(sample: DemoSample, outDir: string, version?: string): Sdist {
  const source = join(DEMO_SAMPLES_DIR, sample);
  const project = readProjectMetadata(source);
  const finalVersion = version ?? project.version;
  if (!isDemoVersion(finalVersion)) throw new Error(`not a usable sample version: ${JSON.stringify(finalVersion)}`);
  return writeSdist(source, outDir, { ...project, version: finalVersion });
}

/** Writes every sample's sdist into `outDir`. */
export function writeDemoSdists(outDir: string): Sdist[] {
  return (Object.keys(DEMO_SAMPLES) as DemoSample[]).map((sample) => writeDemoSdist(sample, outDir));
}
