import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { UserError } from '../../../shared/cli.ts';
import { defaultDsn, parseDsn, redact, reusingStatements } from '../../../shared/db/connect.ts';

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

describe('DSNs', () => {
  test('PostgreSQL URLs and SQLite paths', () => {
    assert.deepEqual(parseDsn('postgres://u@h/db'), { dialect: 'postgres', url: 'postgres://u@h/db' });
    assert.equal(parseDsn('postgresql://u@h:5433/db').dialect, 'postgres');
    const sqlite = parseDsn('some/dir/farm.sqlite');
    assert.equal(sqlite.dialect, 'sqlite');
    assert.ok(sqlite.dialect === 'sqlite' && sqlite.path.endsWith('some/dir/farm.sqlite'));
  });
  test('bad DSNs are refused with a user error', () => {
    assert.throws(() => parseDsn(''), UserError);
    assert.throws(() => parseDsn('mysql://h/db'), /unsupported database DSN scheme "mysql"/);
    assert.throws(() => parseDsn('postgres://u@h'), /names no database/);
    assert.throws(() => parseDsn('postgres://u@[bad/db'), /malformed PostgreSQL DSN/);
  });
  test('the default is piwheels.sqlite in the data directory', () => {
    assert.equal(defaultDsn({ PIW_DATA_DIR: '/srv/piw' }), '/srv/piw/piwheels.sqlite');
    assert.equal(defaultDsn({}), 'data/piwheels.sqlite');
  });
  test('passwords never reach messages', () => {
    assert.equal(redact('postgres://me:secret@h/db'), 'postgres://me:***@h/db');
  });
});
