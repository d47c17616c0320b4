// The build queue's rule for one version (piwheels' builds_pending view,
// decided here in one place for both dialects): a version is tried first on
// the lowest active ABI; a wheel for ABI none or abi3 covers every ABI; a
// failed build, or a build whose wheels are specific to one ABI, covers only
// that ABI and sends the version on to the next one.
import { UNIVERSAL_ABIS } from './abi.ts';

/** What one build of a version tells the queue. */
export interface BuildCoverage {
  /** ABI of the build machine that attempted it. */
  builderAbi: string;
  /** ABI tags of the files it produced (none for a failed build). */
  fileAbis: readonly string[];
}

/**
 * The ABI a version should be built on next, or null when it wants no more
 * builds. `activeAbis` must be the non-skipped build ABIs in ABI order; the
 * caller leaves skipped packages and versions out altogether.
 */
export function nextBuildAbi(activeAbis: readonly string[], builds: readonly BuildCoverage[]): string | null {
  const covered = new Set<string>();
  for (const build of builds) {
    if (build.fileAbis.length === 0) covered.add(build.builderAbi);
    for (const abi of build.fileAbis) {
      if (UNIVERSAL_ABIS.has(abi)) return null;
      covered.add(abi);
    }
  }
  return activeAbis.find((abi) => !covered.has(abi)) ?? null;
}
