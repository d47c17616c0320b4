// The master's side of failure triage for builds from slaves: reads the
// frame our slave writes into a log, classifies a failure (failure-triage.ts)
// and finds its missing native dependency before the build is recorded;
// afterwards names the Debian package that provides it (debian-index.ts),
// without holding anything up, and rewrites the project's pages once named.
// Builds whose slave went silent are noted as attempts.
import { parseEnding, parseEnvironment } from '../../shared/build-log.ts';
import type { BuildResult } from '../../shared/build.ts';
import type { FailureInfo, LostBuild } from '../../shared/db/index.ts';
import type { Logger } from '../../shared/log.ts';
import type { MissingDependency } from '../../shared/failure.ts';
import { classifyFailure } from './failure-triage.ts';
import { findMissingDependency } from './missing-dependency.ts';

/** What the master knows about the slave when its build ends. */
export interface SlaveFacts {
  /** The slave's build timeout (seconds). */
  buildTimeoutS: number;
  /** Its last stats showed its disk below the threshold. */
  diskLow: boolean;
}

/** The database calls triage makes. */
export interface TriageStore {
  getBuildFailure(buildId: number): Promise<FailureInfo | null>;
  setDebianPackage(buildId: number, debianPackage: string): Promise<void>;
  recordLostBuild(lost: LostBuild): Promise<boolean>;
}

export interface PackageNamer {
  lookup(missing: MissingDependency): Promise<string | null>;
}

export interface BuildTriageOptions {
  store: TriageStore;
  index: PackageNamer;
  /** Asks for a project's pages to be rewritten. */
  rewrite(pkg: string): void;
  logger: Logger;
}

/** The build with its environment and, if it failed, its kind and missing dependency. */
export function triageBuild(build: BuildResult, facts: SlaveFacts): BuildResult {
  const environment = parseEnvironment(build.output);
  if (build.status) return { ...build, environment, failure: null };
  const kind = classifyFailure({ log: build.output, ending: parseEnding(build.output), framed: environment !== null, durationS: build.duration, buildTimeoutS: facts.buildTimeoutS, diskLow: facts.diskLow });
  return { ...build, environment, failure: { kind, missing: kind === 'package' ? findMissingDependency(build.output) : null } };
}

/** One line for the monitor about a recorded failure. */
export function describeFailure(failure: FailureInfo): string {
  const retry = failure.retryAt === null ? 'not retried automatically' : `retry at ${failure.retryAt.toISOString().slice(0, 19)}Z`;
  const missing = failure.missing === null ? '' : `; missing ${failure.missing.name}${failure.debianPackage === null ? '' : ` (${failure.debianPackage})`}`;
  return `failed (${failure.kind}, try ${failure.attempt}): ${retry}${missing}`;
}

export class BuildTriage {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: BuildTriageOptions) {}

  /**
   * After a failed build is committed: its triage as recorded (for the
   * monitor); the Debian package of a missing dependency is looked up in
   * the background.
   */
  async recorded(buildId: number, build: BuildResult): Promise<FailureInfo | null> {
    if (build.status) return null;
    const failure = await this.options.store.getBuildFailure(buildId);
    if (failure?.missing) this.track(this.name(buildId, build.package, failure.missing));
    return failure;
  }

  /** A build handed back to the queue because its slave went silent. */
  lost(lost: LostBuild): void {
    this.track(
      this.options.store.recordLostBuild(lost).then(
        () => undefined,
        (error: unknown) => this.options.logger.error({ err: error, package: lost.package, version: lost.version }, 'could not note a lost build'),
      ),
    );
  }

  /** Resolves once every lookup and note under way has finished (stopping, tests). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async name(buildId: number, pkg: string, missing: MissingDependency): Promise<void> {
    try {
      const debian = await this.options.index.lookup(missing);
      if (debian === null) return;
      await this.options.store.setDebianPackage(buildId, debian);
      this.options.logger.info({ buildId, package: pkg, missing: missing.name, debian }, 'missing dependency named');
      this.options.rewrite(pkg);
    } catch (error) {
      this.options.logger.error({ err: error, buildId }, 'could not name a missing dependency');
    }
  }

  private track(work: Promise<void>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }
}
