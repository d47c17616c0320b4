import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChangelogState,
  classifyAction,
  toEvent,
  type Effect,
  type EventAction,
  type UpstreamEvent,
} from '../../../coordinator/upstream/changelog.ts';
import { applyEffect, applyInTimestampOrder, random, snapshot, type ModelDb } from './changelog-model.ts';

function ev(serial: number, timestamp: number, action: EventAction, pkg: string, version: string | null = null): UpstreamEvent {
  return { package: pkg, name: pkg, version, timestamp, serial, action };
}

function run(state: ChangelogState, events: UpstreamEvent[]): { db: ModelDb; effects: Effect[] } {
  const db: ModelDb = new Map();
  const effects: Effect[] = [];
  for (const e of events) {
    const out = state.ingest(e);
    effects.push(...out);
    for (const effect of out) applyEffect(db, effect);
    state.expire();
  }
  return { db, effects };
}

describe('classifyAction', () => {
  const cases: Array<[string, EventAction | null]> = [
    ['create', 'create'],
    ['add source file foo-1.0.tar.gz', 'source'],
    ['add py3 file foo-1.0-py3-none-any.whl', 'binary'],
    ['add cp311 file foo-1.0-cp311-cp311-linux_x86_64.whl', 'binary'],
    ['remove', 'remove'],
    ['remove release', 'remove'],
    ['remove project', 'remove'],
    ['yank release', 'yank'],
    ['unyank release', 'unyank'],
    ['remove file foo-1.0.tar.gz', null],
    ['remove Owner someone', null],
    ['add Owner someone', null],
    ['new release', null],
    ['update description', null],
    ['created', null],
    ['', null],
  ];
  for (const [action, expected] of cases) {
    test(`"${action}" → ${String(expected)}`, () => assert.equal(classifyAction(action), expected));
  }
});

describe('toEvent', () => {
  const row = { name: 'Foo_Bar', version: '1.0', timestamp: 100, action: 'add source file x.tar.gz', serial: 7 };
  test('canonicalises the package and keeps the spelling', () => {
    assert.deepEqual(toEvent(row), {
      event: { package: 'foo-bar', name: 'Foo_Bar', version: '1.0', timestamp: 100, serial: 7, action: 'source' },
    });
  });
  test('create drops the version', () => {
    const out = toEvent({ ...row, action: 'create', version: '1.0' });
    assert.ok('event' in out);
    assert.equal(out.event.version, null);
  });
  test('a removal with an empty version removes the package', () => {
    const out = toEvent({ ...row, action: 'remove', version: '' });
    assert.ok('event' in out);
    assert.equal(out.event.version, null);
  });
  test('ignores unknown actions, silly lengths, and uploads or yanks without a version', () => {
    assert.ok('ignored' in toEvent({ ...row, action: 'add Owner x' }));
    assert.ok('ignored' in toEvent({ ...row, name: 'a'.repeat(201) }));
    assert.ok('ignored' in toEvent({ ...row, version: '1'.repeat(201) }));
    assert.ok('ignored' in toEvent({ ...row, version: null }));
    assert.ok('ignored' in toEvent({ ...row, action: 'yank release', version: null }));
    assert.ok('ignored' in toEvent({ ...row, name: '...' }));
  });
});

describe('ChangelogState in order', () => {
  test('create asks for a description; an upload adds package then version', () => {
    const state = new ChangelogState();
    assert.deepEqual(state.ingest(ev(1, 10, 'create', 'foo')), [
      { op: 'addPackage', package: 'foo', name: 'foo', at: 10, describe: true },
    ]);
    assert.deepEqual(state.ingest(ev(2, 11, 'source', 'foo', '1.0')), [
      { op: 'addPackage', package: 'foo', name: 'foo', at: 11, describe: false },
      { op: 'addVersion', package: 'foo', version: '1.0', released: 11, source: true },
    ]);
  });

  test('repeated uploads of a version are suppressed, except the first source after binary', () => {
    const state = new ChangelogState();
    assert.equal(state.ingest(ev(1, 10, 'binary', 'foo', '1.0')).length, 2);
    assert.deepEqual(state.ingest(ev(2, 11, 'binary', 'foo', '1.0')), []);
    const upgrade = state.ingest(ev(3, 12, 'source', 'foo', '1.0'));
    assert.deepEqual(upgrade[1], { op: 'addVersion', package: 'foo', version: '1.0', released: 12, source: true });
    assert.deepEqual(state.ingest(ev(4, 13, 'source', 'foo', '1.0')), []);
    assert.deepEqual(state.ingest(ev(5, 14, 'binary', 'foo', '1.0')), []);
  });

  test('a removal forgets the version, so a re-upload is applied', () => {
    const state = new ChangelogState();
    state.ingest(ev(1, 10, 'source', 'foo', '1.0'));
    assert.deepEqual(state.ingest(ev(2, 11, 'remove', 'foo', '1.0')), [
      { op: 'deleteVersion', package: 'foo', version: '1.0' },
    ]);
    assert.equal(state.ingest(ev(3, 12, 'source', 'foo', '1.0')).length, 2);
    assert.deepEqual(state.ingest(ev(4, 13, 'remove', 'foo')), [{ op: 'deletePackage', package: 'foo' }]);
    assert.equal(state.ingest(ev(5, 14, 'source', 'foo', '1.0')).length, 2);
  });

  test('the duplicate cache is bounded', () => {
    const state = new ChangelogState({ dedupSize: 4 });
    for (const [i, pkg] of ['a', 'b', 'c', 'd'].entries()) state.ingest(ev(i + 1, 10 + i, 'source', pkg, '1'));
    assert.equal(state.ingest(ev(5, 20, 'source', 'a', '1')).length, 2, 'the oldest entries are forgotten');
    assert.deepEqual(state.ingest(ev(6, 21, 'source', 'd', '1')), []);
    assert.deepEqual(state.ingest(ev(7, 22, 'source', 'a', '1')), []);
  });

  test('yank and unyank carry their timestamps', () => {
    const state = new ChangelogState();
    state.ingest(ev(1, 10, 'source', 'foo', '1.0'));
    assert.deepEqual(state.ingest(ev(2, 20, 'yank', 'foo', '1.0')), [
      { op: 'setYanked', package: 'foo', version: '1.0', yanked: true, at: 20 },
    ]);
    assert.deepEqual(state.ingest(ev(3, 30, 'unyank', 'foo', '1.0')), [
      { op: 'setYanked', package: 'foo', version: '1.0', yanked: false, at: 30 },
    ]);
  });
});

describe('ChangelogState late arrivals', () => {
  test('an upload older than a removal already applied is dropped', () => {
    const state = new ChangelogState();
    state.ingest(ev(1, 20, 'remove', 'foo', '1.0'));
    assert.deepEqual(state.ingest(ev(2, 10, 'source', 'foo', '1.0')), []);
    state.ingest(ev(3, 30, 'remove', 'bar'));
    assert.deepEqual(state.ingest(ev(4, 25, 'create', 'bar')), []);
  });

  test('a removal older than an upload already applied deletes, then re-applies the upload', () => {
    const state = new ChangelogState();
    state.ingest(ev(1, 5, 'source', 'foo', '1.0'));
    state.ingest(ev(2, 20, 'binary', 'foo', '2.0'));
    assert.deepEqual(state.ingest(ev(3, 10, 'remove', 'foo')), [
      { op: 'deletePackage', package: 'foo' },
      { op: 'addPackage', package: 'foo', name: 'foo', at: 20, describe: false },
      { op: 'addVersion', package: 'foo', version: '2.0', released: 20, source: false },
    ]);
  });

  test('an upload arriving after a newer yank is yanked', () => {
    const state = new ChangelogState();
    state.ingest(ev(1, 20, 'yank', 'foo', '1.0'));
    const effects = state.ingest(ev(2, 10, 'source', 'foo', '1.0'));
    assert.deepEqual(effects.at(-1), { op: 'setYanked', package: 'foo', version: '1.0', yanked: true, at: 20 });
  });

  test('a yank older than a newer yank or unyank is dropped', () => {
    const state = new ChangelogState();
    state.ingest(ev(1, 5, 'source', 'foo', '1.0'));
    state.ingest(ev(2, 20, 'unyank', 'foo', '1.0'));
    assert.deepEqual(state.ingest(ev(3, 10, 'yank', 'foo', '1.0')), []);
  });

  test('a late upload lowers released and is never suppressed as a duplicate', () => {
    const state = new ChangelogState();
    state.ingest(ev(1, 20, 'source', 'foo', '1.0'));
    assert.deepEqual(state.ingest(ev(2, 10, 'source', 'foo', '1.0'))[1], {
      op: 'addVersion', package: 'foo', version: '1.0', released: 10, source: true,
    });
  });
});

describe('ChangelogState end state matches timestamp order', () => {
  const weights: Array<[EventAction | 'removePackage', number]> = [
    ['create', 8], ['source', 25], ['binary', 25], ['remove', 10], ['removePackage', 4], ['yank', 12], ['unyank', 8],
  ];
  function history(rng: () => number, count: number, jitter: number): UpstreamEvent[] {
    const total = weights.reduce((sum, [, w]) => sum + w, 0);
    const truth: UpstreamEvent[] = [];
    for (let i = 0; i < count; i++) {
      let pick = rng() * total;
      let action: EventAction | 'removePackage' = 'source';
      for (const [a, w] of weights) {
        pick -= w;
        if (pick < 0) { action = a; break; }
      }
      const pkg = `p${Math.floor(rng() * 3)}`;
      const version = `${Math.floor(rng() * 4)}.0`;
      const timestamp = 1_000_000 + i * 10;
      if (action === 'removePackage') truth.push(ev(0, timestamp, 'remove', pkg));
      else truth.push(ev(0, timestamp, action, pkg, action === 'create' ? null : version));
    }
    // Serials follow arrival, which lags the timestamps by up to `jitter` seconds.
    const arrival = truth.map((e) => ({ e, key: e.timestamp + rng() * jitter })).sort((a, b) => a.key - b.key);
    return arrival.map(({ e }, index) => ({ ...e, serial: index + 1 }));
  }

  for (let seed = 1; seed <= 300; seed++) {
    const jitter = [0, 50, 200, 500][seed % 4] as number;
    test(`seed ${seed}, ${jitter}s of disorder`, () => {
      const events = history(random(seed), 30 + (seed % 50), jitter);
      const expected = snapshot(applyInTimestampOrder(events));
      const { db } = run(new ChangelogState({ epoch: 0, window: 600 }), events);
      assert.deepEqual(snapshot(db), expected);
    });
  }

  test('any order at all, while nothing is forgotten (before the epoch)', () => {
    for (let seed = 1000; seed < 1100; seed++) {
      const rng = random(seed);
      const events = history(rng, 60, 0);
      const shuffled = events.map((e) => ({ e, k: rng() })).sort((a, b) => a.k - b.k).map(({ e }, i) => ({ ...e, serial: i + 1 }));
      const { db } = run(new ChangelogState(), shuffled);
      assert.deepEqual(snapshot(db), snapshot(applyInTimestampOrder(shuffled)), `seed ${seed}`);
    }
  });

  test('past the epoch, packages quiet for longer than the window are forgotten', () => {
    const state = new ChangelogState({ epoch: 0, window: 100 });
    state.ingest(ev(1, 1000, 'source', 'old', '1.0'));
    state.ingest(ev(2, 1050, 'source', 'busy', '1.0'));
    state.expire();
    assert.equal(state.windowSize, 2);
    state.ingest(ev(3, 1200, 'source', 'busy', '2.0'));
    state.expire();
    assert.equal(state.windowSize, 1);
  });

  test('before the epoch nothing is forgotten', () => {
    const state = new ChangelogState({ epoch: 1_000, window: 100 });
    state.ingest(ev(1, 1000, 'source', 'old', '1.0'));
    state.ingest(ev(2, 99_000, 'source', 'new', '1.0'));
    state.expire();
    assert.equal(state.windowSize, 2);
  });
});
