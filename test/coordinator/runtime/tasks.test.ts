import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Task, TaskRunner, type PauseMode, type Interval } from '../../../coordinator/runtime/tasks.ts';

class Counter extends Task {
  readonly name: string;
  override readonly pauseMode: PauseMode;
  runs = 0;
  events: string[] = [];
  readonly tick: Interval;
  constructor(name: string, mode: PauseMode, private readonly log: string[] = [], fail = false) {
    super();
    this.name = name;
    this.pauseMode = mode;
    this.tick = this.every(3600, 'tick', async () => {
      this.runs += 1;
      await sleep(5);
      if (fail) throw new Error('boom');
    });
  }
  protected override async setup(): Promise<void> {
    this.log.push(`setup ${this.name}`);
  }
  protected override async teardown(): Promise<void> {
    this.log.push(`teardown ${this.name}`);
  }
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i += 1) await sleep(2);
  assert.ok(check(), 'condition never became true');
}

describe('task runtime', () => {
  test('periodic handler runs at start and again when forced', async () => {
    const task = new Counter('a', 'pauseable');
    await task.start();
    await until(() => task.runs === 1);
    task.tick.force();
    await until(() => task.runs === 2);
    await task.stop();
    assert.equal(task.state, 'stopped');
  });

  test('force during a run reruns once afterwards, never overlapping', async () => {
    const task = new Counter('a', 'pauseable');
    await task.start();
    await until(() => task.runs === 1);
    task.tick.force();
    task.tick.force();
    task.tick.force();
    await until(() => task.runs >= 2);
    await sleep(30);
    assert.ok(task.runs <= 3, `ran ${task.runs} times`);
    await task.stop();
  });

  test('a failing handler does not stop the task', async () => {
    const task = new Counter('f', 'pauseable', [], true);
    await task.start();
    await until(() => task.runs === 1);
    task.tick.force();
    await until(() => task.runs === 2);
    assert.equal(task.state, 'running');
    await task.stop();
  });

  test('pause modes', async () => {
    const pauseable = new Counter('p', 'pauseable');
    const nonstop = new Counter('n', 'nonstop');
    const pausing = new Counter('g', 'pausing');
    for (const t of [pauseable, nonstop, pausing]) {
      await t.start();
      await until(() => t.runs === 1);
      t.control('PAUSE');
    }
    assert.equal(pauseable.paused, true);
    assert.equal(nonstop.paused, false);
    assert.equal(pausing.paused, true);
    pauseable.tick.force();
    pausing.tick.force();
    await until(() => pausing.runs === 2);
    assert.equal(pauseable.runs, 1, 'paused task ran periodic work');
    pauseable.control('RESUME');
    pauseable.tick.force();
    await until(() => pauseable.runs === 2);
    for (const t of [pauseable, nonstop, pausing]) await t.stop();
  });

  test('runner starts in order, stops in reverse, QUIT wakes the waiter', async () => {
    const log: string[] = [];
    const runner = new TaskRunner();
    await runner.start([new Counter('one', 'pauseable', log), new Counter('two', 'pauseable', log)]);
    const quit = runner.untilQuit();
    runner.control('PAUSE');
    assert.ok(runner.tasks.every((t) => t.paused));
    runner.control('RESUME');
    assert.ok(runner.tasks.every((t) => !t.paused));
    runner.control('QUIT');
    await quit;
    await Promise.all([runner.stop(), runner.stop()]);
    assert.deepEqual(log, ['setup one', 'setup two', 'teardown two', 'teardown one']);
  });

  test('a task that fails to start stops the ones already started', async () => {
    const log: string[] = [];
    class Broken extends Counter {
      protected override async setup(): Promise<void> {
        throw new Error('address in use');
      }
    }
    const runner = new TaskRunner();
    await assert.rejects(runner.start([new Counter('one', 'pauseable', log), new Broken('two', 'pauseable', log)]), /address in use/);
    assert.deepEqual(log, ['setup one', 'teardown one']);
  });

  test('a task cannot be started twice', async () => {
    const task = new Counter('a', 'nonstop');
    await task.start();
    await assert.rejects(task.start(), /already started/);
    await task.stop();
  });
});
