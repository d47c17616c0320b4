import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RewriteBuffer, Secretary, type RewritesStore } from '../../../coordinator/pages/secretary.ts';
import type { PageRequest, PendingRewrite } from '../../../coordinator/pages/page-request.ts';
import { DIALECTS, freshDatabase } from '../../helpers/db.ts';
import { sampleStats } from '../../helpers/site-fixture.ts';

/** A sink that records requests and lets a test wait for the n-th one. */
function recorder(): { seen: PageRequest[]; waitFor: (n: number) => Promise<void>; sink: (r: PageRequest) => Promise<void> } {
  const seen: PageRequest[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    seen,
    waitFor: (n) =>
      new Promise((resolve) => {
        if (seen.length >= n) resolve();
        else waiters.push({ n, resolve });
      }),
    sink: async (r) => {
      seen.push(r);
      for (const w of waiters) if (seen.length >= w.n) w.resolve();
    },
  };
}

class MemoryStore implements RewritesStore {
  rows: PendingRewrite[] = [];
  async loadRewritesPending(): Promise<PendingRewrite[]> {
    return this.rows;
  }
  async saveRewritesPending(rows: PendingRewrite[]): Promise<void> {
    this.rows = rows;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('rewrite buffer', () => {
  test('de-duplicates per package; BOTH absorbs PROJECT and keeps the first time', () => {
    const b = new RewriteBuffer();
    assert.equal(b.add({ kind: 'PROJECT', package: 'a' }, 100), true);
    assert.equal(b.add({ kind: 'PROJECT', package: 'a' }, 150), false);
    assert.equal(b.add({ kind: 'BOTH', package: 'b' }, 120), true);
    assert.equal(b.add({ kind: 'BOTH', package: 'a' }, 160), false);
    assert.equal(b.add({ kind: 'PROJECT', package: 'b' }, 170), false);
    assert.equal(b.size, 2);
    assert.deepEqual(b.rows(), [
      { package: 'a', addedAt: new Date(100), command: 'BOTH' },
      { package: 'b', addedAt: new Date(120), command: 'BOTH' },
    ]);
  });

  test('hands out only what is due, oldest first', () => {
    const b = new RewriteBuffer();
    b.add({ kind: 'PROJECT', package: 'a' }, 100);
    b.add({ kind: 'BOTH', package: 'b' }, 200);
    assert.equal(b.nextDue(50), 150);
    assert.deepEqual(b.takeDue(149, 50), []);
    assert.deepEqual(b.takeDue(150, 50), [{ kind: 'PROJECT', package: 'a' }]);
    assert.equal(b.nextDue(50), 250);
    assert.deepEqual(b.takeDue(1000, 50), [{ kind: 'BOTH', package: 'b' }]);
    assert.equal(b.nextDue(50), null);
  });

  test('drop forgets a package', () => {
    const b = new RewriteBuffer();
    b.add({ kind: 'PROJECT', package: 'a' }, 1);
    assert.equal(b.drop('a'), true);
    assert.equal(b.drop('a'), false);
    assert.equal(b.size, 0);
  });
});

describe('secretary', () => {
  test('100 requests for one package within the window cause one rewrite', async () => {
    const r = recorder();
    const secretary = new Secretary({ sink: r.sink, store: new MemoryStore(), windowMs: 150 });
    await secretary.start();
    for (let i = 0; i < 100; i++) await secretary.request({ kind: i === 50 ? 'BOTH' : 'PROJECT', package: 'numpy' });
    await r.waitFor(1);
    await sleep(400);
    await secretary.stop();
    assert.deepEqual(r.seen, [{ kind: 'BOTH', package: 'numpy' }]);
  });

  test('HOME, SEARCH, LOG, DELPKG and DELVER pass straight through', async () => {
    const r = recorder();
    const secretary = new Secretary({ sink: r.sink, store: new MemoryStore(), windowMs: 60_000 });
    await secretary.start();
    const direct: PageRequest[] = [
      { kind: 'HOME', stats: sampleStats },
      { kind: 'SEARCH', entries: [] },
      { kind: 'LOG', buildId: 1, log: 'x' },
      { kind: 'DELVER', package: 'a', version: '1.0' },
      { kind: 'DELPKG', package: 'b' },
    ];
    for (const request of direct) await secretary.request(request);
    assert.deepEqual(r.seen, direct);
    await secretary.stop();
  });

  test('a deletion drops the pending rewrite of its package', async () => {
    const r = recorder();
    const store = new MemoryStore();
    const secretary = new Secretary({ sink: r.sink, store, windowMs: 60_000 });
    await secretary.start();
    await secretary.request({ kind: 'BOTH', package: 'gone' });
    await secretary.request({ kind: 'PROJECT', package: 'kept' });
    await secretary.request({ kind: 'DELPKG', package: 'gone' });
    assert.equal(secretary.pending, 1);
    await secretary.stop();
    assert.deepEqual(store.rows.map((row) => row.package), ['kept']);
  });

  test('a rewrite that fails is logged and does not stop the others', async () => {
    const done: string[] = [];
    const secretary = new Secretary({
      sink: async (req) => {
        if (req.kind === 'BOTH' && req.package === 'bad') throw new Error('boom');
        if (req.kind === 'BOTH') done.push(req.package);
      },
      store: new MemoryStore(),
      windowMs: 10,
      now: () => 0,
    });
    await secretary.request({ kind: 'BOTH', package: 'bad' });
    await secretary.request({ kind: 'BOTH', package: 'good' });
    await secretary.flush(1000);
    assert.deepEqual(done, ['good']);
    assert.equal(secretary.pending, 0);
  });

  test('drops stored rows that are not rewrites and keeps the rest', async () => {
    const r = recorder();
    const store = new MemoryStore();
    store.rows = [
      { package: 'x', addedAt: new Date(0), command: 'DELETE' as 'BOTH' },
      { package: '../etc', addedAt: new Date(0), command: 'BOTH' },
      { package: 'kept', addedAt: new Date(0), command: 'PROJECT' },
    ];
    const secretary = new Secretary({ sink: r.sink, store, windowMs: 10 });
    await secretary.start();
    assert.equal(secretary.pending, 1);
    await r.waitFor(1);
    await secretary.stop();
    assert.deepEqual(r.seen, [{ kind: 'PROJECT', package: 'kept' }]);
  });

  test('refuses a project rewrite for a name the output tree cannot hold', async () => {
    const r = recorder();
    const secretary = new Secretary({ sink: r.sink, store: new MemoryStore(), windowMs: 60_000 });
    await assert.rejects(secretary.request({ kind: 'BOTH', package: '../etc' }), /BOTH page request refused: package: not a canonical package name/);
    await assert.rejects(secretary.request({ kind: 'PROJECT', package: 'Not_Canonical' }), /PROJECT page request refused/);
    assert.equal(secretary.pending, 0);
    await secretary.stop();
  });

  for (const dialect of DIALECTS) {
    test(`a restart in the middle loses nothing (${dialect} rewrites_pending)`, async () => {
      const scratch = await freshDatabase(dialect);
      try {
        const first = recorder();
        const before = new Secretary({ sink: first.sink, store: scratch.db, windowMs: 60_000 });
        await before.start();
        await before.request({ kind: 'PROJECT', package: 'alpha' });
        await before.request({ kind: 'BOTH', package: 'beta' });
        await before.request({ kind: 'PROJECT', package: 'beta' });
        await before.stop();
        assert.deepEqual(first.seen, []);
        const saved = await scratch.db.loadRewritesPending();
        assert.deepEqual(saved.map((row) => [row.package, row.command]), [['alpha', 'PROJECT'], ['beta', 'BOTH']]);

        // Started again a minute later: everything saved is due at once.
        const second = recorder();
        const after = new Secretary({ sink: second.sink, store: scratch.db, windowMs: 60_000, now: () => Date.now() + 61_000 });
        await after.start();
        // kept until written: a second crash before then replays them again
        assert.deepEqual((await scratch.db.loadRewritesPending()).map((row) => row.package), ['alpha', 'beta']);
        await second.waitFor(2);
        await after.stop();
        assert.deepEqual(second.seen, [
          { kind: 'PROJECT', package: 'alpha' },
          { kind: 'BOTH', package: 'beta' },
        ]);
        assert.deepEqual(await scratch.db.loadRewritesPending(), []);
      } finally {
        await scratch.drop();
      }
    });
  }

  for (const dialect of DIALECTS) {
    test(`a journaled rewrite survives a crash and is cleared once written (${dialect})`, async () => {
      const scratch = await freshDatabase(dialect);
      try {
        const table = scratch.db;
        const first = recorder();
        // never stopped: it stands for a coordinator killed after the build's commit
        const killed = new Secretary({ sink: first.sink, store: table, windowMs: 60_000 });
        await killed.start();
        const ticket = await killed.journal(['alpha', 'beta', 'alpha']);
        await killed.request({ kind: 'BOTH', package: 'alpha' }, ticket);
        assert.deepEqual((await table.loadRewritesPending()).map((row) => [row.package, row.command]), [['alpha', 'BOTH'], ['beta', 'BOTH']]);

        const second = recorder();
        const after = new Secretary({ sink: second.sink, store: table, windowMs: 10 });
        await after.start();
        await second.waitFor(2);
        // a build of beta journaled but not yet recorded keeps beta's row
        await after.journal(['beta']);
        await after.stop();
        assert.deepEqual(second.seen, [
          { kind: 'BOTH', package: 'alpha' },
          { kind: 'BOTH', package: 'beta' },
        ]);
        assert.deepEqual((await table.loadRewritesPending()).map((row) => row.package), []);
        // only now, so that its timer ends with the test
        await killed.stop();
      } finally {
        await scratch.drop();
      }
    });

    test(`a row is cleared only when its latest journaled build is written (${dialect})`, async () => {
      const scratch = await freshDatabase(dialect);
      try {
        const table = scratch.db;
        const r = recorder();
        const secretary = new Secretary({ sink: r.sink, store: table, windowMs: 10 });
        await secretary.start();
        const first = await secretary.journal(['gamma']);
        // a second build of gamma is journaled before the first one's rewrite goes out
        await secretary.journal(['gamma']);
        await secretary.request({ kind: 'BOTH', package: 'gamma' }, first);
        await r.waitFor(1);
        assert.deepEqual((await table.loadRewritesPending()).map((row) => row.package), ['gamma']);
        const second = await secretary.journal(['gamma']);
        await secretary.request({ kind: 'PROJECT', package: 'gamma' }, second);
        await r.waitFor(2);
        for (let tries = 0; tries < 500 && (await table.loadRewritesPending()).length > 0; tries++) await sleep(10);
        assert.deepEqual(await table.loadRewritesPending(), []);
        await secretary.stop();
      } finally {
        await scratch.drop();
      }
    });
  }
});
