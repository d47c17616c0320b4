// The farm's one-line progress: builds done and waiting, refreshed in place
// on a terminal, printed as a new line (only when it changes) otherwise.
import { sql } from 'kysely';
import type { Database } from '../../shared/db/index.ts';
import { PENDING_PREFIX } from '../../shared/db/derived.ts';
import { fromDbFlag } from '../../shared/db/values.ts';

export interface FarmProgress {
  built: number;
  failed: number;
  pending: number;
  files: number;
}

export function formatProgress(p: FarmProgress): string {
  const wheels = p.files === 1 ? '1 wheel' : `${p.files} wheels`;
  return `builds: ${p.built} built, ${p.failed} failed, ${p.pending} pending; ${wheels} in the index`;
}

/** The counts as the database has them (a handful of rows on a one-machine farm). */
export async function readProgress(db: Database): Promise<FarmProgress> {
  const k = db.kysely;
  const builds = await k
    .selectFrom('builds')
    .select(['status', sql<number>`COUNT(*)`.as('n')])
    .groupBy('status')
    .execute();
  let built = 0;
  let failed = 0;
  for (const row of builds) {
    if (fromDbFlag(row.status)) built += Number(row.n);
    else failed += Number(row.n);
  }
  const pending = await k
    .selectFrom('farm_counters')
    .select(sql<number | null>`SUM(value)`.as('n'))
    .where('name', 'like', `${PENDING_PREFIX}%`)
    .executeTakeFirst();
  const files = await k.selectFrom('files').select(sql<number>`COUNT(*)`.as('n')).executeTakeFirst();
  return { built, failed, pending: Number(pending?.n ?? 0), files: Number(files?.n ?? 0) };
}

export interface LineWriter {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** Shows one status line: rewritten in place on a TTY, appended when it changes elsewhere. */
export class StatusLine {
  private last = '';
  private shown = false;

  constructor(private readonly out: LineWriter) {}

  update(line: string): void {
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${line}`);
      this.shown = true;
    } else if (line !== this.last) {
      this.out.write(`${line}\n`);
    }
    this.last = line;
  }

  /** Prints a message on its own line, keeping the status line below it. */
  message(text: string): void {
    if (this.out.isTTY && this.shown) {
      this.out.write(`\r\x1b[2K${text}\n${this.last}`);
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** Ends the status line so later output starts on a fresh line. */
  finish(): void {
    if (this.out.isTTY && this.shown) this.out.write('\n');
    this.shown = false;
  }
}
