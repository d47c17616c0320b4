// What piw-monitor knows, built from the master's status messages (HELLO,
// STATS, SLAVE), and the text screen drawn from it. No terminal or socket
// here, so every rule is testable.
import { UtcDateTime } from '../../shared/wire/cbor.ts';
import { masterHelloSchema, masterStatsSchema, monitorStats, reverse, slaveHelloSchema, slaveStatsSchema, type Message } from '../../shared/wire/protocols.ts';
import type { z } from 'zod';

export const monitorProtocol = reverse(monitorStats);
export type StatusMessage = Message<typeof monitorProtocol.recv>;
type SlaveStats = z.output<typeof slaveStatsSchema>;
type MasterStats = z.output<typeof masterStatsSchema>;

const LOG_LINES = 100;

export interface SlaveView {
  id: number;
  label: string;
  abi: string;
  platform: string;
  status: string;
  /** "package version" while building. */
  build: string | null;
  buildStarted: Date | null;
  firstSeen: Date;
  lastSeen: Date;
  busyTimeoutSeconds: number;
  stats: SlaveStats | null;
  killed: boolean;
  /** What became of its last build ("pkg 1.0 failed (upstream, try 1): retry at ..."), when the master says. */
  lastResult: string | null;
  /** The slave's recent messages, oldest first. */
  log: string[];
}

export interface MasterView {
  label: string;
  os: string;
  started: Date | null;
  stats: MasterStats | null;
}

function describeData(data: unknown): string {
  if (data === null || data === undefined) return '';
  if (typeof data === 'string' || typeof data === 'number' || typeof data === 'boolean') return String(data);
  if (Array.isArray(data)) return data.map(describeData).join(' ');
  if (data instanceof UtcDateTime) return data.toDate().toISOString();
  return '';
}

export class MonitorModel {
  readonly master: MasterView = { label: '-', os: '-', started: null, stats: null };
  readonly slaves = new Map<number, SlaveView>();
  /** Messages that could not be understood (shown in the footer). */
  ignored = 0;

  apply(message: StatusMessage): void {
    switch (message.msg) {
      case 'HELLO': {
        const [started, label, osName, osVersion] = message.data;
        this.master.started = started.toDate();
        this.master.label = label;
        this.master.os = `${osName} ${osVersion}`.trim();
        return;
      }
      case 'STATS':
        this.master.stats = message.data;
        return;
      case 'SLAVE':
        this.applySlave(...message.data);
        return;
    }
  }

  private applySlave(id: number, timestamp: UtcDateTime, msg: string, data: unknown): void {
    const when = timestamp.toDate();
    let slave = this.slaves.get(id);
    if (msg === 'HELLO') {
      const hello = slaveHelloSchema.safeParse(data);
      if (!hello.success) {
        this.ignored += 1;
        return;
      }
      const [, busyTimeout, , abi, platform, label] = hello.data;
      slave = {
        id, label, abi, platform, status: 'Initializing', build: null, buildStarted: null,
        firstSeen: when, lastSeen: when, busyTimeoutSeconds: busyTimeout.totalSeconds(), stats: null, killed: false, lastResult: null, log: [],
      };
      this.slaves.set(id, slave);
    }
    if (slave === undefined) {
      // a slave that said hello before we attached; the master replays HELLO on ours
      this.ignored += 1;
      return;
    }
    slave.lastSeen = when;
    switch (msg) {
      case 'STATS': {
        const stats = slaveStatsSchema.safeParse(data);
        if (stats.success) slave.stats = stats.data;
        else this.ignored += 1;
        return;
      }
      case 'SLEEP':
        // our master says why a slave gets no builds (its disk); piwheels' sends a flag
        slave.status = typeof data === 'string' && data !== '' ? data : 'Waiting for jobs';
        break;
      case 'DIE':
        slave.status = 'Terminating';
        slave.killed = true;
        break;
      case 'BUILD':
        slave.build = describeData(data);
        slave.buildStarted = when;
        slave.status = `Building ${slave.build}`;
        break;
      case 'SEND':
        slave.status = 'Transferring file';
        break;
      case 'DONE':
        slave.status = 'Cleaning up after build';
        slave.build = null;
        slave.buildStarted = null;
        // our master tells how the build ended (its failure kind and next try)
        if (typeof data === 'string' && data !== '') slave.lastResult = data;
        break;
      default:
        break;
    }
    if (msg !== 'HELLO' || slave.log.length === 0) {
      slave.log.push(`${when.toISOString().slice(11, 19)} ${msg}${describeData(data) ? ` ${describeData(data)}` : ''}`);
      if (slave.log.length > LOG_LINES) slave.log.shift();
    }
  }

  /** Slaves in the order shown: by ABI and platform (their build target), then label, then id. */
  ordered(): SlaveView[] {
    return [...this.slaves.values()].sort(
      (a, b) => a.abi.localeCompare(b.abi) || a.platform.localeCompare(b.platform) || a.label.localeCompare(b.label) || a.id - b.id,
    );
  }
}

/** dead / alert / building / sending / cleaning / idle, as piwheels' monitor colours them. */
export function slaveState(s: SlaveView, now: Date): 'dead' | 'alert' | 'building' | 'sending' | 'cleaning' | 'idle' {
  if (s.killed) return 'dead';
  const silent = (now.getTime() - s.lastSeen.getTime()) / 1000;
  if (silent > s.busyTimeoutSeconds) return 'dead';
  if (silent > s.busyTimeoutSeconds / 2) return 'alert';
  const st = s.stats;
  if (st !== null) {
    const [, diskSize, diskFree, memSize, memFree, swapSize, swapFree, load, temp] = st;
    if (diskFree < diskSize * 0.1 || memFree < memSize * 0.1 || (swapSize > 0 && swapFree < swapSize * 0.5) || load > 4 || temp > 78) return 'alert';
  }
  if (s.status.startsWith('Cleaning')) return 'cleaning';
  if (s.status.startsWith('Transferring')) return 'sending';
  if (s.buildStarted !== null) return 'building';
  return 'idle';
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)}${units[unit]}`;
}

export function formatAge(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.floor(seconds))}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(seconds / 86400)}d`;
}

function fit(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text.padEnd(width);
}

export interface Screen {
  lines: string[];
  /** Index in `lines` of the selected slave's row, or -1. */
  selectedLine: number;
}

export const KEY_HELP = 'Up/Down select  s sleep  w wake  x skip build  k kill  (S W X K: all slaves)  Q quit master  q exit';

/** The whole screen as text: master figures, the slave table, the selected slave's log. */
export function renderScreen(model: MonitorModel, selectedId: number | null, now: Date, width: number, height: number, prompt: string | null): Screen {
  const lines: string[] = [];
  const m = model.master;
  const st = m.stats;
  lines.push(fit(`piw-monitor — master ${m.label} (${m.os})${m.started ? `, up ${formatAge((now.getTime() - m.started.getTime()) / 1000)}` : ''}`, width));
  if (st !== null) {
    const [, built, lastHour, , , pending, newLastHour, files, dlHour, dlMonth, , diskSize, diskFree, memSize, memFree, , , load, temp] = st;
    // per build target: cp311:3, or cp311-linux_aarch64:3 on a farm with platforms
    const perTarget = (r: Record<string, number>): string => Object.entries(r).map(([target, n]) => `${target}:${n}`).join(' ') || '-';
    lines.push(fit(`Builds/hour ${perTarget(lastHour)}   Pending ${perTarget(pending)}   Packages built ${built}   Files ${files}   New/hour ${newLastHour}`, width));
    lines.push(fit(`Downloads ${dlHour}/hour ${dlMonth}/month   Disk ${formatBytes(diskFree)} free of ${formatBytes(diskSize)}   Mem ${formatBytes(memFree)} free of ${formatBytes(memSize)}   Load ${load.toFixed(2)}   Temp ${temp.toFixed(1)}°C`, width));
  } else {
    lines.push(fit('Waiting for the master’s statistics…', width), '');
  }
  lines.push('');
  lines.push(fit(`${'  #'.padEnd(5)}${'Label'.padEnd(16)}${'ABI'.padEnd(8)}${'Platform'.padEnd(15)}${'State'.padEnd(10)}${'Status'.padEnd(34)}${'Seen'.padEnd(6)}${'Disk free'.padEnd(10)}${'Mem free'.padEnd(10)}${'Load'.padEnd(6)}Temp`, width));
  const slaves = model.ordered();
  let selectedLine = -1;
  for (const s of slaves) {
    const stats = s.stats;
    const row =
      `${String(s.id).padStart(3)}  ${fit(s.label, 15)} ${fit(s.abi, 7)} ${fit(s.platform, 14)} ${fit(slaveState(s, now), 9)} ${fit(s.status, 33)} ` +
      `${fit(formatAge((now.getTime() - s.lastSeen.getTime()) / 1000), 5)} ` +
      (stats ? `${fit(formatBytes(stats[2]), 9)} ${fit(formatBytes(stats[4]), 9)} ${fit(stats[7].toFixed(2), 5)} ${stats[8].toFixed(1)}°C` : '-');
    if (s.id === selectedId) selectedLine = lines.length;
    lines.push(fit(row, width));
  }
  if (slaves.length === 0) lines.push(fit('  (no slaves connected)', width));
  lines.push('');
  const selected = selectedId === null ? undefined : model.slaves.get(selectedId);
  const footer = [prompt ?? KEY_HELP];
  const room = Math.max(0, height - lines.length - footer.length - 1);
  if (selected !== undefined && room > 0) {
    if (selected.lastResult !== null) lines.push(fit(`Last build: ${selected.lastResult}`, width));
    lines.push(fit(`Messages of slave ${selected.id} (${selected.label}, ${selected.platform}):`, width));
    for (const entry of selected.log.slice(-Math.max(0, room - 1))) lines.push(fit(`  ${entry}`, width));
  }
  while (lines.length < height - footer.length) lines.push('');
  lines.push(...footer.map((f) => fit(f, width)));
  // Every line full width, blank ones too: a redraw must overwrite what the
  // last screen left on that row (rows shift down as slaves appear).
  return { lines: lines.slice(0, height).map((line) => fit(line, width)), selectedLine };
}
