// A synthetic PyPI changelog for benchmarks and demos: any number of events
// over a given list of real package names, computed from the serial alone (so
// a 5M-event history costs no memory). Every package is created and gets a
// first source upload; after that come uploads (wheels mostly), yanks,
// unyanks and removals in roughly PyPI's proportions, with 3% of events
// stamped up to three minutes earlier than their neighbours, as PyPI's are.
import type { EventLog, HistoryRow } from './server.ts';

const BASE_TIME = 1_600_000_000;
/** Upstream events per second of synthetic time. */
const RATE = 20;

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Names from the pypi-packages TSV (first column, header skipped) or one per line. */
export function readNames(text: string): string[] {
  const lines = text.split('\n');
  const tsv = (lines[0] ?? '').startsWith('name\t');
  const out: string[] = [];
  for (const line of tsv ? lines.slice(1) : lines) {
    const name = (tsv ? line.split('\t', 1)[0] : line)?.trim();
    if (name) out.push(name);
  }
  return out;
}

export class SyntheticLog implements EventLog {
  constructor(
    private readonly names: string[],
    private readonly count: number,
    private readonly seed = 1,
  ) {
    if (names.length === 0) throw new Error('a synthetic history needs package names');
  }

  lastSerial(): number {
    return this.count;
  }

  since(serial: number, limit: number): HistoryRow[] {
    const rows: HistoryRow[] = [];
    for (let s = Math.max(1, serial + 1); s <= this.count && rows.length < limit; s++) rows.push(this.row(s));
    return rows;
  }

  row(serial: number): HistoryRow {
    const k = serial - 1;
    const h = mix(serial, this.seed);
    let timestamp = BASE_TIME + Math.floor(k / RATE);
    if (h % 100 < 3) timestamp -= (h >>> 8) % 180;
    const n = this.names.length;
    if (k < 2 * n) {
      const name = this.names[k >> 1] as string;
      if ((k & 1) === 0) return { name, version: null, timestamp, action: 'create', serial };
      return { name, version: '1.0', timestamp, action: `add source file ${name}-1.0.tar.gz`, serial };
    }
    const name = this.names[mix(h, 7) % n] as string;
    const version = `${1 + ((h >>> 4) % 12)}.${(h >>> 9) % 10}`;
    const pick = (h >>> 20) % 100;
    const file = name.replace(/-/g, '_');
    let action: string;
    let v: string | null = version;
    if (pick < 55) action = `add cp311 file ${file}-${version}-cp311-cp311-linux_armv7l.whl`;
    else if (pick < 85) action = `add source file ${name}-${version}.tar.gz`;
    else if (pick < 90) {
      action = 'create';
      v = null;
    } else if (pick < 94) action = 'yank release';
    else if (pick < 96) action = 'unyank release';
    else if (pick < 99) action = 'remove release';
    else {
      action = 'remove project';
      v = null;
    }
    return { name, version: v, timestamp, action, serial };
  }
}
