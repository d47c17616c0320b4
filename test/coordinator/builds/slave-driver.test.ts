import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Timedelta, UtcDateTime } from '../../../shared/wire/cbor.ts';
import { BuildQueues, type BuildKey } from '../../../coordinator/builds/architect.ts';
import type { FileStateMessage } from '../../../shared/wire/protocols.ts';
import type { BuildResult } from '../../../shared/build.ts';
import { SlaveDriver, type SlaveRequest, type SlaveDriverDeps } from '../../../coordinator/builds/slave-driver.ts';
import { checkWheelFilename } from '../../../coordinator/builds/wheel-check.ts';

const hello = (abi = 'cp311', buildTimeout = 3600, busyTimeout = 300): SlaveRequest => ({
  msg: 'HELLO',
  data: [new Timedelta(0, buildTimeout), new Timedelta(0, busyTimeout), '311', abi, 'linux_armv7l', 'pi1', 'Debian GNU/Linux', '12 (bookworm)', 'unknown', 'unknown'],
});
const stats = (): [UtcDateTime, number, number, number, number, number, number, number, number] =>
  [UtcDateTime.now(), 100, 50, 100, 50, 0, 0, 1.5, 0];
const idle = (): SlaveRequest => ({ msg: 'IDLE', data: stats() });
const busy = (): SlaveRequest => ({ msg: 'BUSY', data: stats() });
const sent: SlaveRequest = { msg: 'SENT', data: undefined };
const fileTuple = (filename: string, platform = 'any'): FileStateMessage =>
  [filename, 10, 'AB'.repeat(32), 'foo', '1.0', 'py3', 'none', platform, null, { apt: [], pip: [] }, '/simple'];
const built = (status: boolean, files: FileStateMessage[] = []): SlaveRequest =>
  ({ msg: 'BUILT', data: [status, new Timedelta(0, 12, 500000), 'the log', files] });

const METADATA_HASH = 'cd'.repeat(32);

function harness(entries: Record<string, BuildKey[]> = { cp311: [['foo', '1.0'], ['bar', '2.0']] }, holdMs = 0) {
  let clock = 1_000_000;
  const queues = new BuildQueues();
  queues.replace(new Map(Object.entries(entries)), 0, 0);
  const logged: BuildResult[] = [];
  const expected: string[] = [];
  const verifies: boolean[] = [];
  const recorded: number[] = [];
  const cancelled: number[] = [];
  const statuses: Array<[number, string]> = [];
  const lows: number[] = [];
  const deps: SlaveDriverDeps = {
    queues,
    transfers: {
      expect(_id, file) { expected.push(file.filename); },
      async verify(_id, pkg) { return (verifies.shift() ?? true) ? { path: `/simple/${pkg}/x.whl`, metadataHash: METADATA_HASH } : null; },
      cancel(id) { cancelled.push(id); },
    },
    recorder: {
      async record(build) {
        logged.push(structuredClone(build));
        recorded.push(logged.length);
        return logged.length;
      },
    },
    monitors: {
      publish(msg, ...data) {
        if (msg !== 'SLAVE') return;
        const [id, , status] = data[0] as [number, UtcDateTime, string, unknown];
        statuses.push([id, status]);
      },
    },
    refill: { nudge() { lows.push(queues.size('cp311')); } },
  };
  const driver = new SlaveDriver({ deps, pypiSimple: 'http://index/simple', idleHoldMs: holdMs, now: () => clock });
  return {
    driver, queues, logged, expected, verifies, recorded, cancelled, statuses, lows,
    tick(ms: number) { clock += ms; },
    async say(address: string, request: SlaveRequest) {
      const reply = await driver.handle(address, request);
      return reply && [reply.msg, reply.data];
    },
  };
}

describe('slave driver', () => {
  test('a full successful build: HELLO, IDLE, BUSY, BUILT, SEND/SENT per file, DONE', async () => {
    const h = harness();
    await h.driver.start();
    assert.deepEqual(await h.say('a', hello()), ['ACK', [1, 'http://index/simple']]);
    assert.deepEqual(await h.say('a', idle()), ['BUILD', ['foo', '1.0']]);
    assert.deepEqual(h.lows, [1], 'a queue below half its limit asks for a refill');
    assert.deepEqual(await h.say('a', busy()), ['CONT', undefined]);
    const files = [fileTuple('foo-1.0-py3-none-any.whl'), fileTuple('foo-1.0-cp311-cp311-linux_armv7l.whl', 'linux_armv7l')];
    assert.deepEqual(await h.say('a', built(true, files)), ['SEND', 'foo-1.0-cp311-cp311-linux_armv7l.whl']);
    h.verifies.push(false);
    assert.deepEqual(await h.say('a', sent), ['SEND', 'foo-1.0-cp311-cp311-linux_armv7l.whl'], 'failed verify re-sends');
    assert.deepEqual(await h.say('a', sent), ['SEND', 'foo-1.0-py3-none-any.whl']);
    assert.equal(h.logged.length, 0, 'nothing recorded before all files are in');
    assert.deepEqual(await h.say('a', sent), ['DONE', undefined]);
    assert.equal(h.logged.length, 1);
    const build = h.logged[0]!;
    assert.equal(build.package, 'foo');
    assert.equal(build.abiTag, 'cp311');
    assert.equal(build.status, true);
    assert.equal(build.duration, 12.5);
    assert.equal(build.output, 'the log');
    assert.deepEqual(build.files.map((f) => f.filename).sort(), [
      'foo-1.0-cp311-cp311-linux_armv6l.whl', 'foo-1.0-cp311-cp311-linux_armv7l.whl', 'foo-1.0-py3-none-any.whl',
    ]);
    assert.equal(build.files[0]!.filehash, 'ab'.repeat(32), 'hashes are kept lower-case');
    const byName = new Map(build.files.map((f) => [f.filename, f]));
    assert.equal(byName.get('foo-1.0-py3-none-any.whl')!.metadataHash, METADATA_HASH, 'what the juggler learned goes with the file');
    assert.equal(byName.get('foo-1.0-cp311-cp311-linux_armv6l.whl')!.metadataHash, null, 'the twin takes its hash when recorded');
    assert.deepEqual(h.recorded, [1]);
    assert.deepEqual(h.expected, [
      'foo-1.0-cp311-cp311-linux_armv7l.whl', 'foo-1.0-cp311-cp311-linux_armv7l.whl', 'foo-1.0-py3-none-any.whl',
    ]);
    assert.deepEqual(await h.say('a', idle()), ['BUILD', ['bar', '2.0']]);
    assert.deepEqual(await h.say('a', { msg: 'BYE', data: undefined }), undefined);
    assert.equal(h.driver.list().length, 0);
    assert.ok(h.statuses.some(([, msg]) => msg === 'DIE'), 'monitors are told the slave left');
    await h.driver.stop();
  });

  test('failed build and build without files are recorded at once', async () => {
    const h = harness();
    await h.driver.start();
    await h.say('a', hello());
    await h.say('a', idle());
    assert.deepEqual(await h.say('a', built(false)), ['DONE', undefined]);
    assert.equal(h.logged[0]?.status, false);
    await h.say('a', idle());
    assert.deepEqual(await h.say('a', built(true)), ['DONE', undefined]);
    assert.equal(h.logged.length, 2);
    await h.driver.stop();
  });

  test('unknown slaves get no reply; protocol errors get DIE and return the build', async () => {
    const h = harness();
    await h.driver.start();
    assert.equal(await h.say('stranger', idle()), undefined);
    await h.say('a', hello());
    assert.deepEqual(await h.say('a', sent), ['DIE', undefined]);
    await h.say('b', hello());
    await h.say('b', idle());
    assert.deepEqual(await h.say('b', idle()), ['DIE', undefined]);
    assert.deepEqual(h.queues.sizes(), { cp311: 2 }, 'foo went back to the queue');
    await h.driver.stop();
  });

  test('ABI-matched dispatch and idle slaves sleep when nothing matches', async () => {
    const h = harness({ cp39: [['old', '1']], cp311: [] });
    await h.driver.start();
    await h.say('a', hello('cp311'));
    await h.say('b', hello('cp39'));
    assert.deepEqual(await h.say('a', idle()), ['SLEEP', false]);
    assert.deepEqual(await h.say('b', idle()), ['BUILD', ['old', '1']]);
    await h.driver.stop();
  });

  test('a held IDLE is answered as soon as a build arrives', async () => {
    const h = harness({ cp311: [] }, 60_000);
    await h.driver.start();
    await h.say('a', hello());
    const pending = h.say('a', idle());
    h.queues.replace(new Map([['cp311', [['fresh', '1.0']]]]), 1, 1);
    h.driver.wakeWaiting();
    assert.deepEqual(await pending, ['BUILD', ['fresh', '1.0']]);
    assert.deepEqual(await h.say('a', built(false)), ['DONE', undefined]);
    const second = h.say('a', idle());
    await h.driver.stop();
    assert.deepEqual(await second, ['SLEEP', false], 'shutdown answers held requests');
  });

  test('KILL, SLEEP, SKIP and WAKE', async () => {
    const h = harness();
    await h.driver.start();
    await h.say('a', hello());
    await h.say('b', hello());
    h.driver.controlSlave('SLEEP', 1);
    assert.deepEqual(await h.say('a', idle()), ['SLEEP', true]);
    h.driver.controlSlave('WAKE', null);
    assert.deepEqual(await h.say('a', idle()), ['BUILD', ['foo', '1.0']]);
    h.driver.controlSlave('SKIP', 1);
    assert.deepEqual(await h.say('a', busy()), ['DONE', undefined]);
    assert.deepEqual(await h.say('a', idle()), ['BUILD', ['bar', '2.0']]);
    h.driver.controlSlave('SKIP', 1);
    assert.deepEqual(await h.say('a', built(true, [fileTuple('foo-1.0-py3-none-any.whl')])), ['DONE', undefined]);
    assert.equal(h.logged.length, 0, 'skipped results are discarded');
    h.driver.controlSlave('KILL', 2);
    assert.deepEqual(await h.say('b', idle()), ['DIE', undefined]);
    h.driver.pause();
    assert.deepEqual(await h.say('a', idle()), ['SLEEP', true]);
    h.driver.resume();
    await h.driver.stop();
  });

  test('upstream deletion drops queued builds and skips running ones', async () => {
    const h = harness({ cp311: [['foo', '1.0'], ['foo', '2.0'], ['bar', '2.0']] });
    await h.driver.start();
    await h.say('a', hello());
    await h.say('a', idle());
    h.driver.deleted('foo', null);
    assert.deepEqual(await h.say('a', busy()), ['DONE', undefined]);
    assert.deepEqual(await h.say('a', idle()), ['BUILD', ['bar', '2.0']]);
    await h.driver.stop();
  });

  test('a silent slave is dropped and its build returns to the queue', async () => {
    const h = harness();
    await h.driver.start();
    await h.say('a', hello('cp311', 3600, 300));
    await h.say('a', idle());
    h.tick(301_000);
    h.driver.removeExpired();
    assert.equal(h.driver.list().length, 0);
    await h.say('b', hello());
    assert.deepEqual(await h.say('b', idle()), ['BUILD', ['foo', '1.0']]);
    await h.driver.stop();
  });

  test('a build outliving its timeout is stopped and recorded as failed', async () => {
    const h = harness();
    await h.driver.start();
    await h.say('a', hello('cp311', 60, 300));
    await h.say('a', idle());
    h.tick(30_000);
    assert.deepEqual(await h.say('a', busy()), ['CONT', undefined]);
    h.tick(31_000);
    assert.deepEqual(await h.say('a', busy()), ['DONE', undefined]);
    assert.equal(h.logged.length, 1);
    assert.equal(h.logged[0]!.status, false);
    assert.match(h.logged[0]!.output, /timeout/);
    assert.deepEqual(await h.say('a', idle()), ['BUILD', ['bar', '2.0']]);
    await h.driver.stop();
  });

  test('files that are not wheels of the package make the build fail', async () => {
    const h = harness();
    await h.driver.start();
    await h.say('a', hello());
    await h.say('a', idle());
    assert.deepEqual(await h.say('a', built(true, [fileTuple('../../etc/passwd')])), ['DONE', undefined]);
    assert.equal(h.logged[0]!.status, false);
    assert.match(h.logged[0]!.output, /Refused/);
    assert.deepEqual(h.expected, []);
    await h.driver.stop();
  });

  test('repeated verify failures abandon the build', async () => {
    const h = harness();
    await h.driver.start();
    await h.say('a', hello());
    await h.say('a', idle());
    await h.say('a', built(true, [fileTuple('foo-1.0-py3-none-any.whl')]));
    for (let i = 0; i < 4; i += 1) {
      h.verifies.push(false);
      assert.deepEqual(await h.say('a', sent), ['SEND', 'foo-1.0-py3-none-any.whl']);
    }
    h.verifies.push(false);
    assert.deepEqual(await h.say('a', sent), ['DONE', undefined]);
    assert.equal(h.logged.length, 0);
    assert.ok(h.cancelled.includes(1));
    await h.driver.stop();
  });
});

describe('slave state', () => {
  test('each step is reported to monitors; CONT is not remembered; replay tells a new monitor the rest', async () => {
    const h = harness();
    await h.driver.start();
    await h.say('a', hello());
    // ACK itself is not reported: the slave's HELLO stands for it
    assert.deepEqual(h.statuses.map(([, msg]) => msg), ['HELLO']);
    await h.say('a', idle());
    await h.say('a', busy());
    assert.deepEqual(await h.say('a', busy()), ['CONT', undefined]);
    assert.deepEqual(h.statuses.map(([, msg]) => msg), ['HELLO', 'STATS', 'BUILD', 'STATS', 'STATS']);
    assert.equal(h.driver.list()[0]!.reply?.msg, 'BUILD', 'CONT is not remembered as the last reply');
    await h.say('a', built(false));
    assert.equal(h.driver.list()[0]!.build, undefined, 'DONE forgets the build');
    h.statuses.length = 0;
    h.driver.replay();
    assert.deepEqual(h.statuses, [[1, 'HELLO'], [1, 'STATS'], [1, 'STATS'], [1, 'STATS'], [1, 'DONE']]);
    await h.driver.stop();
  });

  test('BUILT without a BUILD before it is a protocol error; expiry follows the busy timeout', async () => {
    const h = harness({ cp311: [] });
    await h.driver.start();
    await h.say('a', hello('cp311', 3600, 300));
    assert.deepEqual(await h.say('a', idle()), ['SLEEP', false]);
    const slave = h.driver.list()[0]!;
    assert.equal(slave.expired(slave.lastSeen + 299_000), false);
    assert.equal(slave.expired(slave.lastSeen + 301_000), true);
    assert.deepEqual(await h.say('a', built(false)), ['DIE', undefined]);
    assert.equal(h.logged.length, 0);
    await h.driver.stop();
  });

  test('keeps the last 100 stats', async () => {
    const h = harness({ cp311: [] });
    await h.driver.start();
    await h.say('a', hello());
    for (let i = 0; i < 150; i++) {
      const stats = idle();
      assert.ok(stats.msg === 'IDLE');
      stats.data[1] = i;
      await h.say('a', stats);
    }
    const slave = h.driver.list()[0]!;
    assert.equal(slave.stats.length, 100);
    assert.equal(slave.stats[0]![1], 50);
    await h.driver.stop();
  });
});

describe('wheel filename checks', () => {
  test('accepts wheels of the package', () => {
    assert.equal(checkWheelFilename('e2e_pure-1.1-py3-none-any.whl', 'e2e-pure'), null);
    assert.equal(checkWheelFilename('Foo.Bar-1.0-1-cp311-cp311-linux_armv7l.whl', 'foo-bar'), null);
  });
  test('refuses paths, NUL, other packages and non-wheels', () => {
    for (const bad of ['../foo-1.0-py3-none-any.whl', 'a/foo-1.0-py3-none-any.whl', 'foo-1.0-py3-none-any.whl\0', 'foo-1.0.tar.gz', 'bar-1.0-py3-none-any.whl', 'foo-1.0..-py3-none-any.whl', '']) {
      assert.notEqual(checkWheelFilename(bad, 'foo'), null, bad);
    }
  });
});
