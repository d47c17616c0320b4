// Which builds speak for a platform: the rule shared by the build queue and
// the project pages' build matrix. A wheel speaks for the platforms its tag
// says ("any": all of them); a build speaks for its builder's platform
// whatever its wheels are tagged (so that a machine whose wheels carry
// another tag is not asked again and again); a failure of unknown platform
// (a build from before platforms were recorded) speaks for every platform.
// On a farm without platforms every build speaks for the one lane, as in
// piwheels.
import { ANY_PLATFORM } from '../target.ts';

/** The platform tag of a wheel that runs anywhere. */
const ANY_WHEEL_PLATFORM = 'any';

/** A build as far as platforms go. */
export interface PlatformBuild<F extends { platform: string }> {
  /** Native platform of the build machine; ANY_PLATFORM when not known. */
  builderPlatform: string;
  files: readonly F[];
}

/**
 * The files of a build that speak for `lane` (a platform, or ANY_PLATFORM on
 * a farm without platforms), all of them for a build without files that
 * speaks for it ([]), or null when the build says nothing about that platform.
 */
export function filesForPlatform<F extends { platform: string }>(build: PlatformBuild<F>, lane: string): readonly F[] | null {
  if (lane === ANY_PLATFORM || build.builderPlatform === lane) return build.files;
  if (build.files.length === 0) return build.builderPlatform === ANY_PLATFORM ? build.files : null;
  const files = build.files.filter((f) => f.platform === ANY_WHEEL_PLATFORM || f.platform === lane);
  return files.length > 0 ? files : null;
}
