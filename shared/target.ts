// Build targets: what the farm builds for is an (ABI, platform) pair. A farm
// that names no platforms has one target per ABI that accepts any platform,
// which is how piwheels (and an adopted piwheels database) always worked.
// Targets are written as wheel tags are joined, "cp311-linux_aarch64", or just
// "cp311" for an any-platform target; neither tag holds a hyphen.
import { UserError } from './cli.ts';

/** The platform of an any-platform target (the database's spelling too). */
export const ANY_PLATFORM = '';

export interface BuildTarget {
  abi: string;
  /** A wheel platform tag such as linux_aarch64, or ANY_PLATFORM. */
  platform: string;
}

/** The target's name: "cp311-linux_aarch64", or "cp311" for any platform. */
export function targetKey(target: BuildTarget): string {
  return target.platform === ANY_PLATFORM ? target.abi : `${target.abi}-${target.platform}`;
}

/** A target from its name; throws a UserError saying what is wrong. */
export function parseTargetKey(key: string): BuildTarget {
  const hyphen = key.indexOf('-');
  const abi = hyphen < 0 ? key : key.slice(0, hyphen);
  const platform = hyphen < 0 ? ANY_PLATFORM : key.slice(hyphen + 1);
  checkAbiTag(abi);
  if (platform !== ANY_PLATFORM || hyphen >= 0) checkPlatformTag(platform);
  return { abi, platform };
}

/** Refuses what cannot be a builder's ABI tag. */
export function checkAbiTag(abi: string): void {
  if (abi === 'none' || abi === 'abi3' || !/^[a-z0-9_]{1,100}$/.test(abi)) {
    throw new UserError(`${JSON.stringify(abi)} is not a build ABI tag (e.g. cp311)`);
  }
}

/**
 * Refuses what cannot be a builder's platform tag: a wheel platform tag
 * (lower case, digits, underscores, dots), but not "any", which a build
 * machine never is.
 */
export function checkPlatformTag(platform: string): void {
  if (platform === 'any' || !/^[a-z0-9_.]{1,100}$/.test(platform)) {
    throw new UserError(`${JSON.stringify(platform)} is not a build platform tag (e.g. linux_armv7l, linux_aarch64)`);
  }
}

/**
 * The farm's targets: every active ABI on every active platform, or one
 * any-platform target per ABI when no platform is active; ABIs in the order
 * given, then platforms in the order given.
 */
export function buildTargets(abis: readonly string[], platforms: readonly string[]): BuildTarget[] {
  const lanes = platforms.length === 0 ? [ANY_PLATFORM] : platforms;
  return abis.flatMap((abi) => lanes.map((platform) => ({ abi, platform })));
}

/**
 * The target a build machine works for, from what its HELLO says: the target
 * of its ABI and native platform, else its ABI's any-platform target, else
 * none (it gets no builds).
 */
export function slaveTarget(targets: readonly BuildTarget[], abi: string, platform: string): BuildTarget | null {
  const mine = targets.filter((t) => t.abi === abi);
  return mine.find((t) => t.platform === platform) ?? mine.find((t) => t.platform === ANY_PLATFORM) ?? null;
}
