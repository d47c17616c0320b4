import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { reusingStatements } from '../../../shared/db/connect.ts';

test('SQLite statements are prepared once and reused, never while busy, and the cache is bounded', () => {
  const handle = new BetterSqlite3(':memory:');
  try {
    handle.exec('CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3)');
    const db = reusingStatements(handle, 2);
    const select = 'SELECT n FROM t ORDER BY n';
    const first = db.prepare(select);
    assert.equal(db.prepare(select), first, 'same SQL, same statement');

    const rows = first.iterate([]);
    rows.next();
    const during = db.prepare(select);
    assert.notEqual(during, first, 'a statement being iterated is not handed out again');
    assert.deepEqual(during.all([]), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    rows.return?.();
    assert.equal(db.prepare(select), first, 'free again once the iteration ends');

    db.prepare('SELECT 1');
    db.prepare('SELECT 2');
    assert.notEqual(db.prepare(select), first, 'the least recently used statement was evicted');
  } finally {
    handle.close();
  }
});
