// The farm's one-line progress: builds done and waiting, refreshed in place
// on a terminal, printed as a new line (only when it changes) otherwise.
import type { BuildCounts, Database } from '../../shared/db/index.ts';

export type FarmProgress = BuildCounts;

export function formatProgress(p: FarmProgress): string {
  const wheels = p.files === 1 ? '1 wheel' : `${p.files} wheels`;
  return `builds: ${p.built} built, ${p.failed} failed, ${p.pending} pending; ${wheels} in the index`;
}

/** The counts as the database has them (a handful of rows on a one-machine farm). */
export function readProgress(db: Database): Promise<FarmProgress> {
  return db.getBuildCounts();
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
