// Per-target build status of one release, as the project page shows it. The
// scoring follows piwheels' get_project_data: for each active ABI, every build
// by a builder of that ABI or a lower one is scored with each of its files,
// and the best score decides. With platforms, each target is scored on the
// builds and files that speak for its platform (platform-coverage.ts); on a
// farm without platforms that is every build, as in piwheels. Unlike the original, "lower" is interpreter
// order (compareAbis), and an ABI that no build decides is reported as
// pending (the original left it out).
import type { AbiStatus, ServedUpstream, WithheldFile } from '../model.ts';
import { targetKey, type BuildTarget } from '../target.ts';
import { compareAbis, UNIVERSAL_ABIS } from './abi.ts';
import { filesForPlatform } from './platform-coverage.ts';

export interface BuildOutcome {
  buildId: number;
  builderAbi: string;
  /** Native platform of the build machine; '' when not known. */
  builderPlatform: string;
  status: boolean;
  /** ABI and platform tags of the files this build holds now. */
  files: ReadonlyArray<{ abi: string; platform: string }>;
}

// Each page compares the same few ABI pairs thousands of times.
const abiOrder = new Map<string, number>();
function abiAtMost(builder: string, abi: string): boolean {
  const key = `${builder} ${abi}`;
  let order = abiOrder.get(key);
  if (order === undefined) {
    order = compareAbis(builder, abi);
    abiOrder.set(key, order);
  }
  return order <= 0;
}

function score(abi: string, build: BuildOutcome, fileAbi: string | null): number {
  if (build.builderAbi === abi) {
    if (!build.status) return 2;
    if (fileAbi === null) return 1;
    if (fileAbi === abi) return 5;
    if (UNIVERSAL_ABIS.has(fileAbi)) return 4;
    return -1;
  }
  if (!build.status || fileAbi === null) return -1;
  if (fileAbi === abi) return 4;
  if (UNIVERSAL_ABIS.has(fileAbi)) return 3;
  return -1;
}

/**
 * Status of a release on each active target (given in target order), by
 * target name. A skipped release reads 'skip' everywhere, still naming the
 * deciding build if any. A successful build whose files have all been
 * replaced by later builds counts as a failure for its own ABI: it left no
 * wheel.
 */
export function releaseTargetStatuses(
  targets: readonly BuildTarget[],
  builds: readonly BuildOutcome[],
  skipped: boolean,
): Record<string, AbiStatus> {
  const result: Record<string, AbiStatus> = {};
  for (const target of targets) {
    const { abi } = target;
    let best: { score: number; build: BuildOutcome; fileAbi: string | null } | null = null;
    for (const build of builds) {
      if (!abiAtMost(build.builderAbi, abi)) continue;
      const files = filesForPlatform(build, target.platform);
      if (files === null) continue;
      const fileAbis = files.length > 0 ? files.map((f) => f.abi) : [null];
      for (const fileAbi of fileAbis) {
        const s = score(abi, build, fileAbi);
        if (s < 0) continue;
        // Ties go to the most recent build.
        if (best === null || s > best.score || (s === best.score && build.buildId > best.build.buildId)) {
          best = { score: s, build, fileAbi };
        }
      }
    }
    const key = targetKey(target);
    if (skipped) {
      result[key] = { status: 'skip', buildId: best?.build.buildId ?? null };
    } else if (best === null) {
      result[key] = { status: 'pending', buildId: null };
    } else {
      const succeeded = best.build.status && best.fileAbi !== null;
      result[key] = { status: succeeded ? 'success' : 'fail', buildId: best.build.buildId };
    }
  }
  return result;
}

/**
 * The statuses with upstream's part marked: an ABI with no wheel of ours
 * (pending or failed) reads 'upstream' when upstream serves a wheel for it,
 * or when the build deciding it made only files withheld for clashing with
 * upstream's (their names are upstream's, so upstream's install there too).
 * Built and skipped releases keep their status; the deciding build, if any,
 * stays named (its log tells the story).
 */
export function withUpstream(
  statuses: Record<string, AbiStatus>,
  served: readonly ServedUpstream[],
  withheld: readonly WithheldFile[],
): Record<string, AbiStatus> {
  const result: Record<string, AbiStatus> = {};
  for (const [abi, status] of Object.entries(statuses)) {
    const open = status.status === 'pending' || status.status === 'fail';
    const clashed = status.buildId !== null && withheld.some((w) => w.buildId === status.buildId);
    const upstream = open && (clashed || served.some((s) => s.abi === abi || targetKey(s) === abi));
    result[abi] = upstream ? { status: 'upstream', buildId: status.buildId } : status;
  }
  return result;
}
