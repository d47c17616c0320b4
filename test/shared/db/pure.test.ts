// The data layer's pure decisions: ABI order, the queue rule for one version,
// per-ABI release status, version ordering and value conversions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareAbis, sortAbis } from '../../../shared/db/abi.ts';
import { nextBuildAbi } from '../../../shared/db/queue.ts';
import { releaseAbiStatuses, type BuildOutcome } from '../../../shared/db/project.ts';
import { compareVersionKeys, keyIsPrerelease, versionKey } from '../../../shared/db/versions.ts';
import {
  checkAddress,
  durationToMicros,
  fromDbFlag,
  fromDbTimestamp,
  recentFirstDay,
  sanitize,
  toDbTimestamp,
  utcDay,
} from '../../../shared/db/values.ts';
import { compareVersions, isPrerelease } from '../../../shared/names.ts';
import { defaultDsn, parseDsn, redact } from '../../../shared/db/connect.ts';
import { planUpgrade, LATEST_VERSION } from '../../../shared/db/migrate.ts';
import { UserError } from '../../../shared/cli.ts';

describe('ABI order', () => {
  test('orders by interpreter version, not text', () => {
    assert.deepEqual(sortAbis(['cp313', 'cp311', 'cp39']), ['cp39', 'cp311', 'cp313']);
    assert.ok(compareAbis('cp39', 'cp311') < 0, 'text order would put cp311 first');
  });
  test('old-style tags with flags, other implementations and odd tags', () => {
    assert.deepEqual(sortAbis(['cp35m', 'cp34m', 'cp27mu', 'cp27m', 'cp310']), ['cp27m', 'cp27mu', 'cp34m', 'cp35m', 'cp310']);
    assert.deepEqual(sortAbis(['pp73', 'cp39']), ['cp39', 'pp73']);
    assert.deepEqual(sortAbis(['weird-tag', 'cp39', 'Zed']), ['cp39', 'Zed', 'weird-tag']);
    assert.equal(compareAbis('cp39', 'cp39'), 0);
  });
});

describe('queue rule for one version', () => {
  const abis = ['cp39', 'cp311', 'cp313'];
  test('an unbuilt version goes to the lowest active ABI', () => {
    assert.equal(nextBuildAbi(abis, []), 'cp39');
  });
  test('a none wheel covers every ABI', () => {
    assert.equal(nextBuildAbi(abis, [{ builderAbi: 'cp39', fileAbis: ['none'] }]), null);
  });
  test('an abi3 wheel covers every ABI', () => {
    assert.equal(nextBuildAbi(abis, [{ builderAbi: 'cp39', fileAbis: ['abi3'] }]), null);
  });
  test('a failure sends it on to the next ABI, and the next', () => {
    assert.equal(nextBuildAbi(abis, [{ builderAbi: 'cp39', fileAbis: [] }]), 'cp311');
    assert.equal(
      nextBuildAbi(abis, [
        { builderAbi: 'cp39', fileAbis: [] },
        { builderAbi: 'cp311', fileAbis: [] },
      ]),
      'cp313',
    );
  });
  test('an ABI-specific wheel covers its own ABI only', () => {
    assert.equal(nextBuildAbi(abis, [{ builderAbi: 'cp39', fileAbis: ['cp39', 'cp39'] }]), 'cp311');
  });
  test('a wheel covers the ABI in its name, whoever built it', () => {
    assert.equal(nextBuildAbi(abis, [{ builderAbi: 'cp39', fileAbis: ['cp311'] }]), 'cp39');
  });
  test('every ABI covered, or none active: nothing more', () => {
    const all = abis.map((abi) => ({ builderAbi: abi, fileAbis: [abi] }));
    assert.equal(nextBuildAbi(abis, all), null);
    assert.equal(nextBuildAbi([], []), null);
  });
});

describe('release status per ABI', () => {
  const abis = ['cp39', 'cp311', 'cp313'];
  const build = (buildId: number, builderAbi: string, status: boolean, fileAbis: string[]): BuildOutcome => ({
    buildId,
    builderAbi,
    status,
    fileAbis,
  });
  test('no builds: pending everywhere', () => {
    const s = releaseAbiStatuses(abis, [], false);
    assert.deepEqual(Object.keys(s), abis);
    for (const abi of abis) assert.deepEqual(s[abi], { status: 'pending', buildId: null });
  });
  test('a none wheel built on the lowest ABI is a success everywhere', () => {
    const s = releaseAbiStatuses(abis, [build(7, 'cp39', true, ['none'])], false);
    for (const abi of abis) assert.deepEqual(s[abi], { status: 'success', buildId: 7 });
  });
  test('failure on the lowest ABI, then success with a specific wheel on the next', () => {
    const s = releaseAbiStatuses(abis, [build(1, 'cp39', false, []), build(2, 'cp311', true, ['cp311'])], false);
    assert.deepEqual(s.cp39, { status: 'fail', buildId: 1 });
    assert.deepEqual(s.cp311, { status: 'success', buildId: 2 });
    assert.deepEqual(s.cp313, { status: 'pending', buildId: null });
  });
  test('builds of higher ABIs do not decide a lower one (interpreter order)', () => {
    const s = releaseAbiStatuses(abis, [build(3, 'cp311', true, ['none'])], false);
    assert.deepEqual(s.cp39, { status: 'pending', buildId: null });
    assert.deepEqual(s.cp311, { status: 'success', buildId: 3 });
    assert.deepEqual(s.cp313, { status: 'success', buildId: 3 });
  });
  test('a compatible wheel from a lower ABI outweighs a failure on its own', () => {
    const s = releaseAbiStatuses(abis, [build(1, 'cp39', true, ['abi3']), build(2, 'cp311', false, [])], false);
    assert.deepEqual(s.cp311, { status: 'success', buildId: 1 });
    assert.deepEqual(s.cp313, { status: 'success', buildId: 1 });
  });
  test('an own-ABI wheel outweighs a compatible one from a lower ABI', () => {
    const s = releaseAbiStatuses(abis, [build(1, 'cp39', true, ['abi3']), build(2, 'cp311', true, ['cp311'])], false);
    assert.deepEqual(s.cp311, { status: 'success', buildId: 2 });
    assert.deepEqual(s.cp39, { status: 'success', buildId: 1 });
  });
  test('a success whose files were all replaced reads as a failure for its ABI', () => {
    const s = releaseAbiStatuses(abis, [build(4, 'cp39', true, [])], false);
    assert.deepEqual(s.cp39, { status: 'fail', buildId: 4 });
  });
  test('ties go to the latest build', () => {
    const s = releaseAbiStatuses(abis, [build(1, 'cp39', true, ['cp39']), build(5, 'cp39', true, ['cp39'])], false);
    assert.deepEqual(s.cp39, { status: 'success', buildId: 5 });
  });
  test('skipped releases read skip, keeping the deciding build', () => {
    const s = releaseAbiStatuses(abis, [build(1, 'cp39', true, ['none'])], true);
    assert.deepEqual(s.cp39, { status: 'skip', buildId: 1 });
    assert.deepEqual(releaseAbiStatuses(['cp39'], [], true).cp39, { status: 'skip', buildId: null });
  });
});

describe('version ordering', () => {
  const versions = [
    '1.0', '1.0.0', '1.0.post1', '1.0a1', '1.0b2', '1.0rc1', '1.0.dev1', '1.0a1.dev1', '0.9', '2!0.1',
    '1.0+local.1', '1.0+local.a', '1.0+2', '1.1', '1.10', '1.2', 'not a version', 'also-legacy', '1.0.post1.dev2',
    '1.0rc1.post1', '10', '1.0c2',
  ];
  test('sorts exactly as compareVersions does', () => {
    const expected = [...versions].sort(compareVersions);
    const keyed = versions.map(versionKey).sort(compareVersionKeys).map((k) => k.version);
    // Equal versions (1.0 and 1.0.0) may come in either order; compare by rank.
    assert.equal(keyed.length, expected.length);
    for (let i = 0; i < keyed.length; i += 1) {
      assert.equal(compareVersions(keyed[i] ?? '', expected[i] ?? ''), 0, `position ${i}: ${keyed[i]} vs ${expected[i]}`);
    }
  });
  test('pre-release flag agrees with isPrerelease', () => {
    for (const v of versions) assert.equal(keyIsPrerelease(versionKey(v)), isPrerelease(v), v);
  });
});

describe('values', () => {
  test('timestamps round-trip as UTC text that sorts', () => {
    const d = new Date('2024-02-29T23:59:58.123Z');
    assert.equal(toDbTimestamp(d), '2024-02-29 23:59:58.123');
    assert.equal(fromDbTimestamp(toDbTimestamp(d)).getTime(), d.getTime());
    assert.equal(fromDbTimestamp('2021-09-01 00:00:00.856014').toISOString(), '2021-09-01T00:00:00.856Z');
    assert.ok(toDbTimestamp(new Date('2024-01-01T00:00:00Z')) < toDbTimestamp(new Date('2024-01-01T00:00:00.001Z')));
    assert.throws(() => toDbTimestamp(new Date('garbage')), RangeError);
    assert.throws(() => fromDbTimestamp('yesterday'), TypeError);
    assert.throws(() => fromDbTimestamp(42), TypeError);
  });
  test('flags from either dialect', () => {
    assert.equal(fromDbFlag(true), true);
    assert.equal(fromDbFlag(1), true);
    assert.equal(fromDbFlag(0), false);
    assert.equal(fromDbFlag(false), false);
  });
  test('recent window is the last 30 UTC days, today included', () => {
    const now = new Date('2026-11-25T10:00:00Z');
    assert.equal(recentFirstDay(now), '2026-10-27');
    assert.equal(utcDay(now), '2026-11-25');
  });
  test('durations', () => {
    assert.equal(durationToMicros(1.5), 1_500_000);
    assert.throws(() => durationToMicros(-1), RangeError);
    assert.throws(() => durationToMicros(Number.NaN), RangeError);
  });
  test('control characters are replaced, layout kept', () => {
    assert.equal(sanitize('a\x00b\x1bc\td\ne\r'), 'a\ufffdb\ufffdc\td\ne\r');
    assert.equal(sanitize(null), null);
  });
  test('addresses are checked', () => {
    assert.equal(checkAddress('192.0.2.1'), '192.0.2.1');
    assert.equal(checkAddress('2001:db8::1'), '2001:db8::1');
    assert.throws(() => checkAddress('example.com'), RangeError);
    assert.throws(() => checkAddress(''), RangeError);
  });
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

describe('upgrade plans', () => {
  test('empty: every migration; current: nothing', () => {
    assert.equal(planUpgrade({ kind: 'empty' }).length, LATEST_VERSION);
    assert.deepEqual(planUpgrade({ kind: 'ours', version: LATEST_VERSION }), []);
    assert.equal(planUpgrade({ kind: 'ours', version: LATEST_VERSION - 1 }).length, 1);
  });
  test('piwheels 0.23 is adopted then migrated; other versions refused', () => {
    const steps = planUpgrade({ kind: 'piwheels', version: '0.23' });
    assert.equal(steps[0]?.kind, 'adopt');
    assert.equal(steps.length, LATEST_VERSION);
    assert.throws(() => planUpgrade({ kind: 'piwheels', version: '0.19' }), /only 0\.23 can be adopted/);
  });
  test('newer than known, or not ours: refused', () => {
    assert.throws(() => planUpgrade({ kind: 'ours', version: LATEST_VERSION + 1 }), /newer than this software knows/);
    assert.throws(() => planUpgrade({ kind: 'foreign', tables: ['users'] }), /refusing to touch/);
  });
});
