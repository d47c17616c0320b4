import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BINARY_ONLY, planBatch, type BatchImage, type BatchPlan, type Effect } from '../../../coordinator/upstream/changelog.ts';
import { applyEffect, random, snapshot, type ModelDb } from './changelog-model.ts';

function imageOf(db: ModelDb): BatchImage {
  const image: BatchImage = { packages: new Map(), versions: new Map() };
  for (const [pkg, versions] of db) {
    image.packages.set(pkg, '');
    for (const [v, row] of versions) image.versions.set(`${pkg}\u0000${v}`, { ...row, released: row.released * 1000 });
  }
  return image;
}

function applyPlan(db: ModelDb, plan: BatchPlan): void {
  for (const pkg of plan.deletePackages) db.delete(pkg);
  for (const { package: pkg, version } of plan.deleteVersions) db.get(pkg)?.delete(version);
  for (const { package: pkg } of plan.insertPackages) {
    assert.ok(!db.has(pkg), `insert of stored package ${pkg}`);
    db.set(pkg, new Map());
  }
  for (const row of plan.insertVersions) {
    const versions = db.get(row.package);
    assert.ok(versions, `version of missing package ${row.package}`);
    assert.ok(!versions.has(row.version), `insert of stored version ${row.package} ${row.version}`);
    versions.set(row.version, { released: row.released / 1000, skip: row.skip, yanked: row.yanked });
  }
  for (const row of plan.updateVersions) {
    const stored = db.get(row.package)?.get(row.version);
    assert.ok(stored, `update of missing version ${row.package} ${row.version}`);
    Object.assign(stored, { released: row.released / 1000, skip: row.skip, yanked: row.yanked });
  }
}

function clone(db: ModelDb): ModelDb {
  return new Map([...db].map(([p, vs]) => [p, new Map([...vs].map(([v, r]) => [v, { ...r }]))]));
}

function randomEffects(rng: () => number, count: number): Effect[] {
  const out: Effect[] = [];
  for (let i = 0; i < count; i++) {
    const pkg = `p${Math.floor(rng() * 3)}`;
    const version = `${Math.floor(rng() * 3)}`;
    const at = 100 + Math.floor(rng() * 50);
    const r = rng();
    if (r < 0.3) {
      out.push({ op: 'addPackage', package: pkg, name: rng() < 0.5 ? pkg : pkg.toUpperCase(), at, describe: rng() < 0.3 });
      out.push({ op: 'addVersion', package: pkg, version, released: at, source: rng() < 0.5 });
    } else if (r < 0.45) out.push({ op: 'addPackage', package: pkg, name: pkg, at, describe: true });
    else if (r < 0.7) out.push({ op: 'setYanked', package: pkg, version, yanked: rng() < 0.6, at });
    else if (r < 0.9) out.push({ op: 'deleteVersion', package: pkg, version });
    else out.push({ op: 'deletePackage', package: pkg });
  }
  return out;
}

describe('planBatch', () => {
  test('writes only the difference, and matches applying each effect in turn', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const rng = random(seed);
      const start: ModelDb = new Map();
      for (const effect of randomEffects(rng, 8)) applyEffect(start, effect);
      const effects = randomEffects(rng, 5 + Math.floor(rng() * 20));
      const expected = clone(start);
      for (const effect of effects) applyEffect(expected, effect);
      const actual = clone(start);
      applyPlan(actual, planBatch(imageOf(start), effects, () => ''));
      assert.deepEqual(snapshot(actual), snapshot(expected), `seed ${seed}`);
    }
  });

  test('a new package gets the skip reason given, and its description is fetched', () => {
    const plan = planBatch({ packages: new Map(), versions: new Map() }, [
      { op: 'addPackage', package: 'foo', name: 'Foo', at: 10, describe: false },
      { op: 'addVersion', package: 'foo', version: '1.0', released: 10, source: false },
    ], (pkg) => (pkg === 'foo' ? 'not in allow-list' : ''));
    assert.deepEqual(plan.insertPackages, [{ package: 'foo', skip: 'not in allow-list' }]);
    assert.deepEqual(plan.insertVersions, [{ package: 'foo', version: '1.0', released: 10_000, skip: BINARY_ONLY, yanked: false }]);
    assert.deepEqual(plan.names, [
      { package: 'foo', name: 'foo', seen: 0 },
      { package: 'foo', name: 'Foo', seen: 10_000 },
    ]);
    assert.deepEqual(plan.describe, ['foo']);
    assert.deepEqual(plan.rewrites, [{ kind: 'BOTH', package: 'foo' }]);
  });

  test('a source upload lifts "binary only" and asks for the project page', () => {
    const image: BatchImage = {
      packages: new Map([['foo', '']]),
      versions: new Map([['foo\u00001.0', { released: 5_000, skip: BINARY_ONLY, yanked: false }]]),
    };
    const plan = planBatch(image, [{ op: 'addVersion', package: 'foo', version: '1.0', released: 9, source: true }], () => '');
    assert.deepEqual(plan.enabled, [{ package: 'foo', version: '1.0' }]);
    assert.deepEqual(plan.updateVersions, [{ package: 'foo', version: '1.0', released: 5_000, skip: '', yanked: false }]);
    assert.deepEqual(plan.rewrites, [{ kind: 'PROJECT', package: 'foo' }]);
    assert.deepEqual(plan.describe, []);
  });

  test('deletions come first; a package removed and re-created is deleted then inserted', () => {
    const image: BatchImage = {
      packages: new Map([['foo', ''], ['bar', '']]),
      versions: new Map([
        ['foo\u00001.0', { released: 1_000, skip: '', yanked: false }],
        ['bar\u00001.0', { released: 1_000, skip: '', yanked: false }],
      ]),
    };
    const plan = planBatch(image, [
      { op: 'deleteVersion', package: 'bar', version: '1.0' },
      { op: 'deletePackage', package: 'foo' },
      { op: 'addPackage', package: 'foo', name: 'foo', at: 20, describe: false },
      { op: 'addVersion', package: 'foo', version: '2.0', released: 20, source: true },
      { op: 'deleteVersion', package: 'bar', version: 'absent' },
    ], () => '');
    assert.deepEqual(plan.deletePackages, ['foo']);
    assert.deepEqual(plan.deleteVersions, [{ package: 'bar', version: '1.0' }]);
    assert.deepEqual(plan.insertPackages, [{ package: 'foo', skip: '' }]);
    assert.deepEqual(plan.rewrites, [
      { kind: 'DELPKG', package: 'foo' },
      { kind: 'DELVER', package: 'bar', version: '1.0' },
      { kind: 'BOTH', package: 'foo' },
    ]);
  });

  test('nothing to do for repeated facts', () => {
    const image: BatchImage = {
      packages: new Map([['foo', '']]),
      versions: new Map([['foo\u00001.0', { released: 1_000, skip: '', yanked: true }]]),
    };
    const plan = planBatch(image, [
      { op: 'addPackage', package: 'foo', name: 'foo', at: 5, describe: false },
      { op: 'addVersion', package: 'foo', version: '1.0', released: 5, source: true },
      { op: 'setYanked', package: 'foo', version: '1.0', yanked: true, at: 6 },
    ], () => '');
    assert.deepEqual([plan.insertPackages, plan.insertVersions, plan.updateVersions, plan.rewrites], [[], [], [], []]);
  });
});
