// Upgrade plans from each kind of database found.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planUpgrade, LATEST_VERSION, MIGRATIONS } from '../../../shared/db/migrate.ts';

describe('upgrade plans', () => {
  test('empty: every migration; current: nothing', () => {
    assert.equal(planUpgrade({ kind: 'empty' }).length, MIGRATIONS.length);
    assert.deepEqual(planUpgrade({ kind: 'ours', version: LATEST_VERSION }), []);
    const previous = MIGRATIONS.at(-2)?.version ?? 0;
    assert.equal(planUpgrade({ kind: 'ours', version: previous }).length, 1);
  });
  test('the schema version is the last migration\'s, numbers increasing', () => {
    assert.equal(LATEST_VERSION, MIGRATIONS.at(-1)?.version);
    for (let i = 1; i < MIGRATIONS.length; i++) assert.ok(MIGRATIONS[i]!.version > MIGRATIONS[i - 1]!.version);
  });
  test('piwheels 0.23 is adopted then migrated; other versions refused', () => {
    const steps = planUpgrade({ kind: 'piwheels', version: '0.23' });
    assert.equal(steps[0]?.kind, 'adopt');
    assert.equal(steps.length, MIGRATIONS.length);
    assert.throws(() => planUpgrade({ kind: 'piwheels', version: '0.19' }), /only 0\.23 can be adopted/);
  });
  test('newer than known, or not ours: refused', () => {
    assert.throws(() => planUpgrade({ kind: 'ours', version: LATEST_VERSION + 1 }), /newer than this software knows/);
    assert.throws(() => planUpgrade({ kind: 'foreign', tables: ['users'] }), /refusing to touch/);
  });
});
