import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { NO_DATA, Timedelta, UtcDateTime } from '../../../shared/wire/cbor.ts';
import {
  buildStateSchema,
  decodeMessage,
  encodeMessage,
  fileStateSchema,
  lumberjack,
  masterStatsSchema,
  mrChase,
  reverse,
  slaveStatsSchema,
  type DataOf,
} from '../../../shared/wire/protocols.ts';
import {
  BuildState,
  DownloadState,
  FileState,
  JSONState,
  MasterStats,
  PageState,
  ProjectState,
  SearchState,
  SlaveState,
  SlaveStats,
  type SlaveHelloMessage,
  type SlaveStatus,
} from '../../../shared/wire/states.ts';

const t0 = UtcDateTime.parse('2026-11-25T08:00:00Z');
const later = (seconds: number): UtcDateTime => new UtcDateTime(t0.epochSeconds + seconds, 0);

const fileMsg = (name: string): DataOf<typeof mrChase.recv, 'IMPORT'>[7][number] => [
  name,
  1226,
  '0c8ac8594d8d22a55d36b1a38617651d0787dd0ce248e53bb7b9bbcec63112c3',
  'e2e_pure',
  '1.1',
  'py3',
  'none',
  'any',
  '>=3.7',
  { apt: [], pip: [], '': [] },
  '/simple',
];

describe('FileState and BuildState', () => {
  test('round-trip through their message forms, which the schemas accept', () => {
    const f = FileState.fromMessage(fileMsg('b-1.1-py3-none-any.whl'));
    assert.equal(f.transferred, false);
    assert.deepEqual(f.asMessage(), fileMsg('b-1.1-py3-none-any.whl'));
    assert.doesNotThrow(() => fileStateSchema.parse(f.asMessage()));
    f.verified();
    assert.equal(f.transferred, true);
    assert.equal(f.asMessage().length, 11);

    const msg: DataOf<typeof mrChase.recv, 'IMPORT'> = [
      1,
      'e2e-pure',
      '1.1',
      'cp311',
      true,
      new Timedelta(0, 2, 372039),
      'log',
      [fileMsg('b-1.1-py3-none-any.whl'), fileMsg('a-1.1-py3-none-any.whl')],
    ];
    const b = BuildState.fromMessage(msg);
    assert.equal(b.files.size, 2);
    assert.equal(b.nextFile, 'a-1.1-py3-none-any.whl');
    // files go out in filename order
    assert.deepEqual(
      b.asMessage()[7].map((m) => m[0]),
      ['a-1.1-py3-none-any.whl', 'b-1.1-py3-none-any.whl'],
    );
    assert.doesNotThrow(() => buildStateSchema.parse(b.asMessage()));
    const wire = decodeMessage(mrChase.recv, encodeMessage(reverse(mrChase).send, 'IMPORT', b.asMessage()));
    assert.ok(wire.msg === 'IMPORT');
    assert.deepEqual(BuildState.fromMessage(wire.data).asMessage(), b.asMessage());
    b.files.get('a-1.1-py3-none-any.whl')!.verified();
    assert.equal(b.transfersDone, false);
    assert.equal(b.nextFile, 'b-1.1-py3-none-any.whl');
    b.files.get('b-1.1-py3-none-any.whl')!.verified();
    assert.equal(b.transfersDone, true);
    assert.equal(b.nextFile, null);
    b.logged(42);
    assert.equal(b.buildId, 42);
  });

  test('a build for ABI "none" is refused', () => {
    assert.throws(() => new BuildState(1, 'p', '1', 'none', false, new Timedelta(), '', []), RangeError);
  });
});

describe('stats and log records', () => {
  test('SlaveStats and MasterStats name their fields', () => {
    const s = SlaveStats.fromMessage([t0, 1, 2, 3, 4, 5, 6, 0.5, 45]);
    assert.equal(s.diskFree, 2);
    assert.equal(s.cpuTemp, 45);
    assert.doesNotThrow(() => slaveStatsSchema.parse(s.asMessage()));
    const m = MasterStats.fromMessage([t0, 10, { cp311: 2 }, new Timedelta(0, 60), 1000, { cp311: 5 }, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0.25, 50]);
    assert.equal(m.packagesBuilt, 10);
    assert.deepEqual(m.buildsPending, { cp311: 5 });
    assert.equal(m.loadAverage, 0.25);
    assert.doesNotThrow(() => masterStatsSchema.parse(m.asMessage()));
  });

  test('download, search and hit records convert to and from their messages', () => {
    const info = ['armv7l', 'Raspbian', '12', 'Linux', '6.1', 'CPython', '3.11.2', 'pip', '23.0', null] as const;
    const d = DownloadState.fromMessage(['f.whl', '10.0.0.1', t0, ...info]);
    assert.equal(d.filename, 'f.whl');
    assert.equal(d.arch, 'armv7l');
    assert.equal(d.setuptoolsVersion, null);
    const wire = decodeMessage(lumberjack.recv, encodeMessage(reverse(lumberjack).send, 'LOGDOWNLOAD', d.asMessage()));
    assert.deepEqual(wire, { msg: 'LOGDOWNLOAD', data: d.asMessage() });
    assert.equal(SearchState.fromMessage(['numpy', 'h', t0, ...info]).packageName, 'numpy');
    assert.equal(ProjectState.fromMessage(['numpy', 'h', t0, 'ua']).userAgent, 'ua');
    assert.equal(JSONState.fromMessage(['numpy', 'h', t0, 'ua']).packageName, 'numpy');
    assert.equal(PageState.fromMessage(['faq.html', 'h', t0, 'ua']).page, 'faq.html');
  });
});

describe('SlaveState', () => {
  const hello: SlaveHelloMessage = [
    new Timedelta(0, 10800),
    new Timedelta(0, 300),
    '311',
    'cp311',
    'linux_armv7l',
    'pi4',
    'Raspbian',
    '12',
    'c03114',
    '1000',
  ];

  test('follows a build conversation and reports it for monitors', () => {
    const seen: SlaveStatus[] = [];
    const slave = new SlaveState(Buffer.from([1]), 7, hello, (s) => seen.push(s), t0);
    assert.equal(slave.label, 'pi4');
    assert.equal(slave.nativeAbi, 'cp311');
    slave.setRequest({ msg: 'HELLO', data: hello }, t0);
    slave.setReply({ msg: 'ACK', data: [7, 'https://www.piwheels.org/simple'] });
    // as piwheels: ACK replays the slave's HELLO, then the reply itself
    assert.deepEqual(seen.map((s) => s[2]), ['HELLO', 'ACK']);

    slave.setRequest({ msg: 'IDLE', data: [later(-2), 1, 2, 3, 4, 5, 6, 0.5, 0] }, later(1));
    assert.equal(slave.stats.length, 1);
    assert.ok(slave.clockSkew!.equals(new Timedelta(0, 3)));
    slave.setReply({ msg: 'BUILD', data: ['e2e-pure', '1.1'] });
    slave.setRequest({ msg: 'BUSY', data: [later(2), 1, 2, 3, 4, 5, 6, 0.5, 0] }, later(2));
    slave.setReply({ msg: 'CONT', data: undefined });
    assert.equal(slave.reply?.msg, 'BUILD', 'CONT is not remembered as the last reply');
    slave.setRequest({ msg: 'BUILT', data: [true, new Timedelta(0, 2), 'log', [fileMsg('e2e_pure-1.1-py3-none-any.whl')]] }, later(3));
    const build = slave.build;
    assert.ok(build !== null);
    assert.equal(build.packageName, 'e2e-pure');
    assert.equal(build.version, '1.1');
    assert.equal(build.abiTag, 'cp311');
    assert.equal(build.nextFile, 'e2e_pure-1.1-py3-none-any.whl');
    slave.setReply({ msg: 'DONE', data: undefined });
    assert.equal(slave.build, null);
    assert.deepEqual(seen.map((s) => s[2]), ['HELLO', 'ACK', 'STATS', 'BUILD', 'STATS', 'DONE']);
    // stats travel with floats marked and no-data replies carry NoData, as piwheels sends them
    assert.equal(seen.at(-1)![3], NO_DATA);

    const replay: SlaveStatus[] = [];
    slave.replayTo((s) => replay.push(s));
    assert.deepEqual(replay.map((s) => s[2]), ['HELLO', 'STATS', 'STATS', 'DONE']);
  });

  test('BUILT without a preceding BUILD makes no build; expiry follows the busy timeout', () => {
    const slave = new SlaveState(Buffer.from([2]), 8, hello, undefined, t0);
    slave.setReply({ msg: 'SLEEP', data: false });
    slave.setRequest({ msg: 'BUILT', data: [false, new Timedelta(0, 1), '', []] }, t0);
    assert.equal(slave.build, null);
    assert.equal(slave.expired(later(299)), false);
    assert.equal(slave.expired(later(301)), true);
    slave.kill();
    slave.skip();
    slave.sleep();
    assert.deepEqual([slave.killed, slave.skipped, slave.paused], [true, true, true]);
    slave.wake();
    assert.deepEqual([slave.killed, slave.skipped, slave.paused], [false, false, false]);
  });

  test('keeps the last 100 stats', () => {
    const slave = new SlaveState(Buffer.from([3]), 9, hello, undefined, t0);
    for (let i = 0; i < 150; i++) slave.setRequest({ msg: 'IDLE', data: [later(i), i, 0, 0, 0, 0, 0, 0, 0] }, later(i));
    assert.equal(slave.stats.length, 100);
    assert.equal(slave.stats[0]!.diskSize, 50);
  });
});
