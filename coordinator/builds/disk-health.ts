// Whether a slave has room to build, from the disk figures of its last IDLE
// or BUSY stats. A slave below the threshold gets no builds until space
// returns; the reason is what piw-monitor shows for it.

export interface DiskFigures {
  /** Bytes in the slave's build directory's file system. */
  size: number;
  /** Bytes free there. */
  free: number;
}

/** Why the slave may not build now, or null when it may (also when it has not reported yet). */
export function diskShortage(figures: DiskFigures | undefined, minFreeBytes: number): string | null {
  if (figures === undefined || !(minFreeBytes > 0)) return null;
  const { free, size } = figures;
  if (!Number.isFinite(free) || free >= minFreeBytes) return null;
  const shown = size > 0 && Number.isFinite(size) ? ` of ${formatBytes(size)}` : '';
  return `no builds: disk ${formatBytes(Math.max(0, free))} free${shown}, needs ${formatBytes(minFreeBytes)}`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
