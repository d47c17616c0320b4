// Half-open integer ranges [start, stop), used to track which bytes of a file
// transfer are still missing.
//
// Public API:
//   range(start, stop)          construct (stop < start is an empty range)
//   consolidate(ranges)         merge overlapping/adjacent ranges (sorted input)
//   split(ranges, i)            split the range containing i at i
//   exclude(ranges, ex)         remove ex from every range
//   intersect(a, b)             overlap of a and b, or null when empty
//   rangeLength(r)

export interface Range {
  readonly start: number;
  readonly stop: number;
}

export function range(start: number, stop: number): Range {
  return { start, stop };
}

export function rangeLength(r: Range): number {
  return Math.max(0, r.stop - r.start);
}

/** Given ranges in ascending order of start, merges those that overlap or touch. */
export function consolidate(ranges: Iterable<Range>): Range[] {
  const out: Range[] = [];
  let start: number | null = null;
  let stop = 0;
  for (const r of ranges) {
    if (start === null) {
      start = r.start;
    } else if (r.start > stop) {
      out.push(range(start, stop));
      start = r.start;
    }
    stop = Math.max(stop, r.stop);
  }
  if (start !== null) out.push(range(start, stop));
  return out;
}

/** Splits whichever of the sorted, disjoint ranges contains i into [start, i) and [i, stop). */
export function split(ranges: Iterable<Range>, i: number): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    if (i > r.start && i < r.stop) {
      out.push(range(r.start, i), range(i, r.stop));
    } else {
      out.push(r);
    }
  }
  return out;
}

/** Removes every value covered by ex from the sorted, disjoint ranges. */
export function exclude(ranges: Iterable<Range>, ex: Range): Range[] {
  return split(split(ranges, ex.start), ex.stop).filter((r) => r.stop <= ex.start || r.start >= ex.stop);
}

export function intersect(a: Range, b: Range): Range | null {
  const r = range(Math.max(a.start, b.start), Math.min(a.stop, b.stop));
  return r.stop > r.start ? r : null;
}
