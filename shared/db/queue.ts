// The build queue's rule for one version on one platform (piwheels'
// builds_pending view, decided here in one place for both dialects, with
// platforms added): per platform the farm builds for, a version is tried
// first on the lowest active ABI; a wheel for ABI none or abi3 covers every
// ABI; a failed build, or a build whose wheels are specific to one ABI,
// covers only that ABI and sends the version on to the next one. Which
// builds count on which platform is platform-coverage.ts's rule.
import { UNIVERSAL_ABIS } from './abi.ts';
import { filesForPlatform } from './platform-coverage.ts';

/** What one build of a version tells the queue. */
export interface BuildCoverage {
  /** ABI of the build machine that attempted it. */
  builderAbi: string;
  /** Native platform of the build machine; ANY_PLATFORM when not known (builds older than platforms). */
  builderPlatform: string;
  /** ABI and platform tags of the files it produced (none for a failed build). */
  files: ReadonlyArray<{ abi: string; platform: string }>;
}

/** The ABI tags a build covers on `lane`. */
function abisCovered(build: BuildCoverage, lane: string): string[] {
  const files = filesForPlatform(build, lane);
  if (files === null) return [];
  return files.length === 0 ? [build.builderAbi] : files.map((f) => f.abi);
}

/**
 * The ABI a version should be built on next for the platform `lane`
 * (ANY_PLATFORM on a farm without platforms), or null when that platform
 * wants no more builds of it. `activeAbis` must be the non-skipped build ABIs
 * in ABI order; the caller leaves skipped packages and versions out.
 */
export function nextBuildAbi(activeAbis: readonly string[], lane: string, builds: readonly BuildCoverage[]): string | null {
  const covered = new Set<string>();
  for (const build of builds) {
    for (const abi of abisCovered(build, lane)) {
      if (UNIVERSAL_ABIS.has(abi)) return null;
      covered.add(abi);
    }
  }
  return activeAbis.find((abi) => !covered.has(abi)) ?? null;
}
