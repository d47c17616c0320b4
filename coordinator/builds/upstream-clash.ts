// The rule that keeps the farm's index from contradicting upstream's: pip
// merges the indexes it is given, and when two serve a file of the same name
// with different bytes it refuses the install ("hashes do not match"). So a
// file a build produced is published only when upstream serves no file of
// that name, or serves the very same bytes.
import type { WithheldFileRecord } from '../../shared/db/index.ts';

export interface NamedFile {
  filename: string;
  /** SHA-256, lower-case hex. */
  filehash: string;
}

export interface ClashVerdict<F extends NamedFile> {
  /** Files that may be published, in the order given. */
  publish: F[];
  /** Files whose names upstream serves with other bytes. */
  withheld: WithheldFileRecord[];
}

/** Sorts a build's files into those that may be published and those withheld. */
export function sortOutClashes<F extends NamedFile>(files: readonly F[], upstream: readonly NamedFile[]): ClashVerdict<F> {
  const theirs = new Map(upstream.map((f) => [f.filename, f.filehash.toLowerCase()]));
  const verdict: ClashVerdict<F> = { publish: [], withheld: [] };
  for (const file of files) {
    const upstreamHash = theirs.get(file.filename);
    if (upstreamHash === undefined || upstreamHash === file.filehash.toLowerCase()) verdict.publish.push(file);
    else verdict.withheld.push({ filename: file.filename, filehash: file.filehash.toLowerCase(), upstreamFilehash: upstreamHash });
  }
  return verdict;
}

/** The line a build's log gets for files withheld, naming each. */
export function withheldNote(withheld: readonly WithheldFileRecord[]): string {
  const names = withheld.map((w) => `${w.filename} (upstream sha256 ${w.upstreamFilehash}, ours ${w.filehash})`);
  return `Not published by the master: upstream serves ${names.join('; ')} under the same name with other bytes, and pip would refuse the mix; pip takes upstream's.\n`;
}
