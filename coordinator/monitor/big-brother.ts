// BigBrother: the farm's statistics. Every few seconds it measures the machine
// (disk of the output tree, memory, load) and publishes STATS to monitors;
// every minute it asks the database for the farm figures and has the home
// page rewritten; every hour it rewrites the search index. It also forces the
// whole master to sleep when the output disk is nearly full, as piwheels does.
import type { FarmStatistics, SearchEntry } from '../../shared/model.ts';
import { Timedelta, UtcDateTime } from '../../shared/wire/cbor.ts';
import type { MasterStatsMessage } from '../../shared/wire/protocols.ts';
import { readSystemStats, type SystemStats } from '../../shared/sysinfo.ts';
import { Task, type Interval, type TaskOptions } from '../runtime/tasks.ts';

export interface BigBrotherDeps {
  getStatistics(): Promise<FarmStatistics>;
  getSearchIndex(): Promise<SearchEntry[]>;
  writeHome(stats: FarmStatistics): Promise<void>;
  writeSearchIndex(entries: SearchEntry[]): Promise<void>;
  /** STATS for monitors. */
  publish(stats: MasterStatsMessage): void;
  /** The output disk is nearly full: put everything to sleep until a monitor wakes it. */
  diskFull(freeBytes: number): void;
  /** Machine figures; the real ones by default. */
  systemStats?(outputPath: string): Promise<SystemStats>;
}

export interface BigBrotherOptions extends TaskOptions {
  deps: BigBrotherDeps;
  outputPath: string;
  statsSeconds?: number;
  homeSeconds?: number;
  searchSeconds?: number;
  /** Below this many free bytes on the output disk the master sleeps (piwheels: 1 GiB). */
  minFreeBytes?: number;
}

const HISTORY = 100;

const emptyFarm = (): FarmStatistics => ({
  packagesBuilt: 0, buildsTime: 0, buildsSize: 0, filesCount: 0, newLastHour: 0, buildsLastHour: {}, buildsPending: {},
  downloadsLastHour: 0, downloadsLastMonth: 0, downloadsAll: 0,
});

/** The monitors' STATS message from the farm and machine figures (piwheels' MasterStats). */
export function masterStats(farm: FarmStatistics, system: SystemStats, extraDownloads = 0): MasterStatsMessage {
  return [
    UtcDateTime.fromDate(system.timestamp),
    farm.packagesBuilt,
    farm.buildsLastHour,
    Timedelta.fromSeconds(farm.buildsTime),
    farm.buildsSize,
    farm.buildsPending,
    farm.newLastHour,
    farm.filesCount,
    farm.downloadsLastHour,
    farm.downloadsLastMonth,
    farm.downloadsAll + extraDownloads,
    system.diskSize,
    system.diskFree,
    system.memSize,
    system.memFree,
    system.swapSize,
    system.swapFree,
    system.loadAverage,
    system.cpuTemperature,
  ];
}

export class BigBrother extends Task {
  readonly name = 'big-brother';
  private farm: FarmStatistics = emptyFarm();
  /** Downloads logged since the last database read. */
  private downloadsSince = 0;
  private readonly history: MasterStatsMessage[] = [];
  private readonly home: Interval;
  private readonly search: Interval;
  private sleeping = false;

  constructor(private readonly options: BigBrotherOptions) {
    super(options);
    this.every(options.statsSeconds ?? 10, 'publish statistics', () => this.updateStats());
    this.home = this.every(options.homeSeconds ?? 60, 'rewrite home page', () => this.updateHome());
    this.search = this.every(options.searchSeconds ?? 3600, 'rewrite search index', () => this.updateSearch());
  }

  /** Downloads the logger stored since the last refresh (piwheels' LOGDOWNLOAD). */
  addDownloads(count: number): void {
    this.downloadsSince += count;
  }

  /** Rewrites the home page and search index now (piwheels' HOME from the import tools). */
  forceHome(): void {
    this.home.force();
    this.search.force();
  }

  /** Re-sends the recent STATS to a newly attached monitor. */
  replay(): void {
    for (const stats of this.history) this.options.deps.publish(stats);
  }

  /** A monitor's WAKE lifts the low-disk sleep; it is re-imposed if the disk is still full. */
  woken(): void {
    this.sleeping = false;
  }

  private async updateStats(): Promise<void> {
    const system = await (this.options.deps.systemStats ?? readSystemStats)(this.options.outputPath);
    const stats = masterStats(this.farm, system, this.downloadsSince);
    this.history.push(stats);
    if (this.history.length > HISTORY) this.history.shift();
    this.options.deps.publish(stats);
    const minFree = this.options.minFreeBytes ?? 1024 ** 3;
    if (!this.sleeping && system.diskSize > 0 && system.diskFree <= minFree) {
      this.sleeping = true;
      this.logger.warn({ freeBytes: system.diskFree }, 'forcing sleep: output disk nearly full; wake from a monitor once space is freed');
      this.options.deps.diskFull(system.diskFree);
    }
  }

  private async updateHome(): Promise<void> {
    this.farm = await this.options.deps.getStatistics();
    this.downloadsSince = 0;
    await this.options.deps.writeHome(this.farm);
  }

  private async updateSearch(): Promise<void> {
    await this.options.deps.writeSearchIndex(await this.options.deps.getSearchIndex());
  }
}
