// Upstream can upload a wheel after the farm published its own build under
// the same name (a maintainer adds the pure wheel minutes after the sdist).
// From then on pip refuses the mix, so whenever upstream says what it serves
// of a release, any file of ours published under one of those names with
// other bytes is withdrawn: out of the files table (recorded withheld by its
// build), out of the tree, and the package's pages rewritten.
import type { PublishedFile, UpstreamFileRecord, WithheldFileRecord } from '../../shared/db/index.ts';
import { silentLogger, type Logger } from '../../shared/log.ts';
import type { PageRequest } from '../pages/page-request.ts';
import type { QueueRefill } from './slave-driver.ts';
import { sortOutClashes } from './upstream-clash.ts';

export interface WithdrawalDeps {
  db: {
    getPublishedFiles(pkg: string, version: string): Promise<PublishedFile[]>;
    withdrawFiles(pkg: string, version: string, files: ReadonlyArray<WithheldFileRecord & { buildId: number }>): Promise<string[]>;
  };
  pages: { request(request: PageRequest): Promise<void> };
  /** A withdrawn file of no ABI may leave other ABIs to build: the queue should look again. */
  refill?: QueueRefill;
  logger?: Logger;
}

/** Withdraws the release's published files that clash with what upstream serves; the filenames withdrawn. */
export async function withdrawClashing(deps: WithdrawalDeps, pkg: string, version: string, upstream: readonly UpstreamFileRecord[]): Promise<string[]> {
  if (upstream.length === 0) return [];
  const ours = await deps.db.getPublishedFiles(pkg, version);
  const { withheld } = sortOutClashes(ours, upstream);
  if (withheld.length === 0) return [];
  const buildOf = new Map(ours.map((f) => [f.filename, f.buildId]));
  const withdrawn = await deps.db.withdrawFiles(
    pkg,
    version,
    withheld.map((w) => ({ ...w, buildId: buildOf.get(w.filename) as number })),
  );
  if (withdrawn.length === 0) return [];
  (deps.logger ?? silentLogger()).warn({ package: pkg, version, withdrawn }, 'files withdrawn: upstream now serves their names with other bytes');
  await deps.pages.request({ kind: 'DELFILES', package: pkg, filenames: withdrawn });
  deps.refill?.nudge();
  return withdrawn;
}
