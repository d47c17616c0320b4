// The coordinator's task runtime. Every part of piw-master (architect, slave
// driver, file juggler, ...) is a Task: it starts, runs periodic handlers,
// obeys PAUSE / RESUME / QUIT, and stops cleanly. All tasks share one event
// loop, so a task talks to another with plain async calls; what a task must
// never do is block the loop (slow work goes to a worker or the database).
import type { Logger } from '../../shared/log.ts';
import { silentLogger } from '../../shared/log.ts';

export type TaskState = 'new' | 'running' | 'paused' | 'stopping' | 'stopped';

/**
 * How a task reacts to PAUSE. "nonstop" ignores it (the file juggler must
 * finish transfers); "pausing" keeps serving but knows it is paused (the
 * slave driver answers SLEEP); "pauseable" suspends its periodic work.
 */
export type PauseMode = 'nonstop' | 'pausing' | 'pauseable';

export type ControlMessage = 'PAUSE' | 'RESUME' | 'QUIT';

/** A periodic handler; `force()` asks for a run as soon as possible. */
export interface Interval {
  readonly name: string;
  force(): void;
}

class PeriodicHandler implements Interval {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private lastStart = Number.NEGATIVE_INFINITY;

  constructor(
    readonly name: string,
    private readonly periodMs: number,
    private readonly handler: () => Promise<void> | void,
    private readonly owner: Task,
  ) {}

  /** Schedules the next run from when the last one started (immediately on first start). */
  schedule(): void {
    this.cancel();
    if (!this.owner.runsPeriodicWork()) return;
    const delay = Math.max(0, this.lastStart + this.periodMs - Date.now());
    this.timer = setTimeout(() => void this.run(), delay);
    this.timer.unref();
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  force(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.lastStart = Number.NEGATIVE_INFINITY;
    this.schedule();
  }

  /** Resolves once any run in progress has finished. */
  async settle(): Promise<void> {
    await this.running;
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    if (!this.owner.runsPeriodicWork() || this.running) return;
    this.lastStart = Date.now();
    this.again = false;
    const run = (async () => {
      try {
        await this.handler();
      } catch (error) {
        this.owner.logger.error({ err: error, handler: this.name }, 'periodic handler failed');
      }
    })();
    this.running = run;
    await run;
    this.running = undefined;
    if (this.again) this.lastStart = Number.NEGATIVE_INFINITY;
    this.schedule();
  }
}

export interface TaskOptions {
  logger?: Logger;
}

export abstract class Task {
  abstract readonly name: string;
  readonly pauseMode: PauseMode = 'pauseable';
  readonly logger: Logger;
  private currentState: TaskState = 'new';
  private readonly intervals: PeriodicHandler[] = [];

  constructor(options: TaskOptions = {}) {
    this.logger = options.logger ?? silentLogger();
  }

  get state(): TaskState {
    return this.currentState;
  }

  get paused(): boolean {
    return this.currentState === 'paused';
  }

  /** True while periodic handlers should run. */
  runsPeriodicWork(): boolean {
    return this.currentState === 'running' || (this.currentState === 'paused' && this.pauseMode !== 'pauseable');
  }

  /** Registers `handler` to run every `seconds` (the first run right after start). */
  protected every(seconds: number, name: string, handler: () => Promise<void> | void): Interval {
    const interval = new PeriodicHandler(name, seconds * 1000, handler, this);
    this.intervals.push(interval);
    if (this.currentState === 'running' || this.currentState === 'paused') interval.schedule();
    return interval;
  }

  /** Opens what the task needs (sockets, files); called once by start(). */
  protected async setup(): Promise<void> {}

  /** Releases what setup() opened and saves what must persist; called once by stop(). */
  protected async teardown(): Promise<void> {}

  async start(): Promise<void> {
    if (this.currentState !== 'new') throw new Error(`task ${this.name} already started`);
    this.logger.debug({ task: this.name }, 'starting');
    await this.setup();
    this.currentState = 'running';
    for (const interval of this.intervals) interval.schedule();
    this.logger.debug({ task: this.name }, 'started');
  }

  pause(): void {
    if (this.currentState !== 'running' || this.pauseMode === 'nonstop') return;
    this.currentState = 'paused';
    if (this.pauseMode === 'pauseable') for (const interval of this.intervals) interval.cancel();
    this.logger.info({ task: this.name }, 'paused');
  }

  resume(): void {
    if (this.currentState !== 'paused') return;
    this.currentState = 'running';
    for (const interval of this.intervals) interval.schedule();
    this.logger.info({ task: this.name }, 'resumed');
  }

  /** Stops periodic work, waits for runs in progress, then tears down. Idempotent. */
  async stop(): Promise<void> {
    if (this.currentState === 'stopped' || this.currentState === 'stopping') return;
    const wasStarted = this.currentState !== 'new';
    this.currentState = 'stopping';
    for (const interval of this.intervals) interval.cancel();
    await Promise.all(this.intervals.map((interval) => interval.settle()));
    if (wasStarted) {
      try {
        await this.teardown();
      } catch (error) {
        this.logger.error({ err: error, task: this.name }, 'error while stopping');
      }
    }
    this.currentState = 'stopped';
    this.logger.debug({ task: this.name }, 'stopped');
  }

  /** The control protocol every task understands; QUIT is the runtime's to act on. */
  control(message: ControlMessage): void {
    if (message === 'PAUSE') this.pause();
    else if (message === 'RESUME') this.resume();
  }
}

/**
 * Starts tasks in order and stops them in reverse, so that a task is started
 * after and stopped before everything it depends on.
 */
export class TaskRunner {
  private readonly started: Task[] = [];
  private stopping: Promise<void> | undefined;
  private readonly quitWaiters: Array<() => void> = [];

  constructor(private readonly logger: Logger = silentLogger()) {}

  async start(tasks: Task[]): Promise<void> {
    for (const task of tasks) {
      try {
        await task.start();
      } catch (error) {
        this.logger.error({ err: error, task: task.name }, 'task failed to start');
        await this.stop();
        throw error;
      }
      this.started.push(task);
    }
  }

  get tasks(): readonly Task[] {
    return this.started;
  }

  control(message: ControlMessage): void {
    if (message === 'QUIT') {
      this.quit();
      return;
    }
    for (const task of this.started) task.control(message);
  }

  /** Asks the runtime to shut down; whoever awaits `untilQuit()` wakes up. */
  quit(): void {
    for (const wake of this.quitWaiters.splice(0)) wake();
  }

  untilQuit(): Promise<void> {
    return new Promise((resolve) => this.quitWaiters.push(resolve));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const task of [...this.started].reverse()) await task.stop();
    })();
    return this.stopping;
  }
}
