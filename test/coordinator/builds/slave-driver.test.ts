import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Timedelta, UtcDateTime } from '../../../shared/wire/cbor.ts';
import { BuildQueues, type BuildKey } from '../../../coordinator/builds/architect.ts';
import { DEFAULT_MAX_MESSAGE_SIZE, encodeMessage, reverse, slaveDriver as slaveProtocol, type FileStateMessage } from '../../../shared/wire/protocols.ts';
import { createSocket } from '../../../shared/wire/transport.ts';
import type { BuildResult } from '../../../shared/build.ts';
import { SlaveDriver, type SlaveRequest, type SlaveDriverDeps, type SlaveTriage } from '../../../coordinator/builds/slave-driver.ts';
import type { LostBuild } from '../../../shared/db/index.ts';
import { checkWheelFilename } from '../../../coordinator/builds/wheel-check.ts';
import type { UpstreamCheck } from '../../../coordinator/upstream/upstream-files.ts';

const hello = (abi = 'cp311', buildTimeout = 3600, busyTimeout = 300, platform = 'linux_armv7l'): SlaveRequest => ({
  msg: 'HELLO',
  data: [new Timedelta(0, buildTimeout), new Timedelta(0, busyTimeout), '311', abi, platform, 'pi1', 'Debian GNU/Linux', '12 (bookworm)', 'unknown', 'unknown'],
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

function harness(
  entries: Record<string, BuildKey[]> = { cp311: [['foo', '1.0'], ['bar', '2.0']] },
  holdMs = 0,
  maxSlaves?: number,
  extra: { minFreeDisk?: number; triage?: SlaveTriage; upstream?: UpstreamCheck } = {},
) {
  let clock = 1_000_000;
  const queues = new BuildQueues();
  queues.replace(new Map(Object.entries(entries)), 0, 0);
  const logged: BuildResult[] = [];
  const expected: string[] = [];
  const verifies: boolean[] = [];
  const recorded: number[] = [];
  const cancelled: number[] = [];
  const statuses: Array<[number, string]> = [];
  const statusData: Array<[string, unknown]> = [];
  const lows: number[] = [];
  const activity = new Map<number, number>();
  const deps: SlaveDriverDeps = {
    queues,
    transfers: {
      expect(_id, file) { expected.push(file.filename); },
      async verify(_id, pkg) { return (verifies.shift() ?? true) ? { path: `/simple/${pkg}/x.whl`, metadataHash: METADATA_HASH } : null; },
      cancel(id) { cancelled.push(id); },
      lastActivity(id) { return activity.get(id); },
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
        const [id, , status, detail] = data[0] as [number, UtcDateTime, string, unknown];
        statuses.push([id, status]);
        statusData.push([status, detail]);
      },
    },
    refill: { nudge() { lows.push(queues.size('cp311')); } },
    ...(extra.triage ? { triage: extra.triage } : {}),
    ...(extra.upstream ? { upstream: extra.upstream } : {}),
  };
  const driver = new SlaveDriver({ deps, pypiSimple: 'http://index/simple', idleHoldMs: holdMs, maxSlaves, now: () => clock, minFreeDisk: extra.minFreeDisk });
  return {
    driver, queues, logged, expected, verifies, recorded, cancelled, statuses, statusData, lows, activity,
    get now() { return clock; },
    tick(ms: number) { clock += ms; },
    async say(address: string, request: SlaveRequest) {
      const reply = await driver.handle(address, request);
      return reply && [reply.msg, reply.data];
    },
  };
}

describe('slave driver: triage and disk health', () => {
  const lowDisk = (): SlaveRequest => ({ msg: 'IDLE', data: [UtcDateTime.now(), 30 * 1024 ** 3, 10 * 1024 ** 2, 100, 50, 0, 0, 0.5, 40] });
  const roomy = (): SlaveRequest => ({ msg: 'IDLE', data: [UtcDateTime.now(), 30 * 1024 ** 3, 5 * 1024 ** 3, 100, 50, 0, 0, 0.5, 40] });

  test('a slave short of disk gets no build until space returns, and monitors are told why', async () => {
    const h = harness(undefined, 0, undefined, { minFreeDisk: 1024 ** 3 });
    await h.driver.start();
    await h.say('a', hello());
    assert.deepEqual(await h.say('a', lowDisk()), ['SLEEP', false], 'the slave itself sees a plain SLEEP');
    assert.deepEqual(h.statusData.at(-1), ['SLEEP', 'no builds: disk 10.0 MB free of 30.0 GB, needs 1.0 GB']);
    assert.equal(h.queues.size('cp311'), 2, 'nothing was taken from the queue');
    assert.deepEqual(await h.say('a', roomy()), ['BUILD', ['foo', '1.0']]);
    await h.driver.stop();
  });

  test('a failed build is triaged before it is recorded, and monitors hear the outcome', async () => {
    const seen: number[] = [];
    const triage: SlaveTriage = {
      async recorded(buildId, build) {
        seen.push(buildId);
        return build.failure ? { kind: build.failure.kind, attempt: 1, retryAt: new Date('2026-01-01T00:05:00Z'), missing: null, debianPackage: null } : null;
      },
      lost() {},
    };
    const h = harness(undefined, 0, undefined, { triage });
    await h.driver.start();
    await h.say('a', hello());
    await h.say('a', idle());
    const log = 'Collecting foo==1.0\nERROR: HTTP error 404 while getting http://index/files/foo-1.0.tar.gz\n';
    assert.deepEqual(await h.say('a', { msg: 'BUILT', data: [false, new Timedelta(0, 3), log, []] }), ['DONE', undefined]);
    assert.deepEqual(h.logged[0]?.failure, { kind: 'upstream', missing: null });
    assert.equal(h.logged[0]?.environment, null, "a piwheels slave's log has no environment");
    assert.deepEqual(seen, [1]);
    assert.deepEqual(h.statusData.at(-1), ['DONE', 'foo 1.0 failed (upstream, try 1): retry at 2026-01-01T00:05:00Z']);
    await h.driver.stop();
  });

  test('a build whose slave goes silent is noted as a lost attempt', async () => {
    const lost: LostBuild[] = [];
    const h = harness(undefined, 0, undefined, { triage: { recorded: async () => null, lost: (l) => lost.push(l) } });
    await h.driver.start();
    await h.say('a', hello());
    await h.say('a', idle());
    h.tick(60_000);
    h.driver.removeExpired();
    assert.deepEqual(lost.map((l) => [l.package, l.version, l.abiTag, l.slaveId]), [['foo', '1.0', 'cp311', 1]]);
    await h.driver.stop();
  });
});

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

  test('slaves work for the target of their ABI and platform; the same version goes to each platform', async () => {
    const h = harness({
      'cp311-linux_armv7l': [['foo', '1.0']],
      'cp311-linux_aarch64': [['foo', '1.0']],
    });
    await h.driver.start();
    await h.say('pi4', hello('cp311', 3600, 300, 'linux_aarch64'));
    await h.say('zero', hello('cp311', 3600, 300, 'linux_armv7l'));
    await h.say('pc', hello('cp311', 3600, 300, 'linux_x86_64'));
    assert.deepEqual(await h.say('pc', idle()), ['SLEEP', false], 'no target for x86_64');
    assert.deepEqual(await h.say('pi4', idle()), ['BUILD', ['foo', '1.0']]);
    assert.deepEqual(await h.say('zero', idle()), ['BUILD', ['foo', '1.0']]);
    assert.deepEqual(await h.say('pi4', built(false)), ['DONE', undefined]);
    assert.deepEqual(h.logged.map((b) => [b.abiTag, b.platformTag]), [['cp311', 'linux_aarch64']], 'the builder platform is recorded');
    await h.say('zero', { msg: 'BYE', data: undefined });
    assert.deepEqual(h.queues.sizes(), { 'cp311-linux_armv7l': 1, 'cp311-linux_aarch64': 0 }, 'an abandoned build goes back to its own target');
    await h.driver.stop();
  });

  test('on a farm without platforms a slave of any platform works for its ABI', async () => {
    const h = harness({ cp311: [['foo', '1.0']] });
    await h.driver.start();
    await h.say('pc', hello('cp311', 3600, 300, 'linux_x86_64'));
    assert.deepEqual(await h.say('pc', idle()), ['BUILD', ['foo', '1.0']]);
    assert.deepEqual(await h.say('pc', built(false)), ['DONE', undefined]);
    assert.equal(h.logged[0]?.platformTag, 'linux_x86_64');
    await h.driver.stop();
  });

  describe("upstream's files", () => {
    const OURS = 'ab'.repeat(32);
    const upstreamFile = (filename: string, filehash: string) => ({ filename, filehash, requiresPython: null, uploadedAt: new Date(0) });
    const asked: string[] = [];
    const upstreamServing = (files: ReturnType<typeof upstreamFile>[] | null): UpstreamCheck => ({
      async filesOf(pkg, version) {
        asked.push(`${pkg} ${version}`);
        return files;
      },
    });

    test('a file whose name upstream serves with other bytes is never asked for, and is recorded withheld', async () => {
      const h = harness(undefined, 0, undefined, { upstream: upstreamServing([upstreamFile('foo-1.0-py3-none-any.whl', 'ef'.repeat(32))]) });
      await h.driver.start();
      await h.say('a', hello());
      await h.say('a', idle());
      const files = [fileTuple('foo-1.0-py3-none-any.whl'), fileTuple('foo-1.0-cp311-cp311-linux_armv7l.whl', 'linux_armv7l')];
      assert.deepEqual(await h.say('a', built(true, files)), ['SEND', 'foo-1.0-cp311-cp311-linux_armv7l.whl']);
      assert.deepEqual(await h.say('a', sent), ['DONE', undefined], 'the clashing file is not transferred');
      assert.deepEqual(asked, ['foo 1.0']);
      const build = h.logged[0]!;
      assert.equal(build.status, true);
      assert.deepEqual(build.files.map((f) => f.filename).sort(), ['foo-1.0-cp311-cp311-linux_armv6l.whl', 'foo-1.0-cp311-cp311-linux_armv7l.whl']);
      assert.deepEqual(build.withheld, [{ filename: 'foo-1.0-py3-none-any.whl', filehash: OURS, upstreamFilehash: 'ef'.repeat(32) }]);
      assert.match(build.output, /Not published by the master: upstream serves foo-1\.0-py3-none-any\.whl/);
      assert.deepEqual(h.expected, ['foo-1.0-cp311-cp311-linux_armv7l.whl']);
      await h.driver.stop();
    });

    test('a build whose only file clashed is recorded at once, successful, with nothing to publish', async () => {
      const h = harness(undefined, 0, undefined, { upstream: upstreamServing([upstreamFile('foo-1.0-py3-none-any.whl', 'EF'.repeat(32))]) });
      await h.driver.start();
      await h.say('a', hello());
      await h.say('a', idle());
      assert.deepEqual(await h.say('a', built(true, [fileTuple('foo-1.0-py3-none-any.whl')])), ['DONE', undefined]);
      assert.equal(h.logged[0]?.status, true);
      assert.deepEqual(h.logged[0]?.files, []);
      assert.equal(h.logged[0]?.withheld?.[0]?.upstreamFilehash, 'ef'.repeat(32));
      assert.deepEqual(h.expected, []);
      await h.driver.stop();
    });

    test('the same bytes upstream are no clash; failed builds are not asked about', async () => {
      asked.length = 0;
      const h = harness(undefined, 0, undefined, { upstream: upstreamServing([upstreamFile('foo-1.0-py3-none-any.whl', OURS)]) });
      await h.driver.start();
      await h.say('a', hello());
      await h.say('a', idle());
      assert.deepEqual(await h.say('a', built(true, [fileTuple('foo-1.0-py3-none-any.whl')])), ['SEND', 'foo-1.0-py3-none-any.whl']);
      assert.deepEqual(await h.say('a', sent), ['DONE', undefined]);
      assert.deepEqual(h.logged[0]?.withheld, []);
      await h.say('a', idle());
      assert.deepEqual(await h.say('a', built(false)), ['DONE', undefined]);
      assert.deepEqual(asked, ['foo 1.0'], 'only the successful build asked');
      await h.driver.stop();
    });

    test('upstream that never answered: nothing published blindly, the build recorded failed with the reason', async () => {
      const h = harness(undefined, 0, undefined, { upstream: upstreamServing(null) });
      await h.driver.start();
      await h.say('a', hello());
      await h.say('a', idle());
      assert.deepEqual(await h.say('a', built(true, [fileTuple('foo-1.0-py3-none-any.whl')])), ['DONE', undefined]);
      assert.equal(h.logged[0]?.status, false);
      assert.deepEqual(h.logged[0]?.files, []);
      assert.match(h.logged[0]?.output ?? '', /upstream could not be asked/);
      await h.driver.stop();
    });

    test('a build skipped while upstream was asked is discarded', async () => {
      let release: (files: never[]) => void = () => undefined;
      const slow: UpstreamCheck = { filesOf: () => new Promise((resolve) => (release = resolve)) };
      const h = harness(undefined, 0, undefined, { upstream: slow });
      await h.driver.start();
      await h.say('a', hello());
      await h.say('a', idle());
      const reply = h.say('a', built(true, [fileTuple('foo-1.0-py3-none-any.whl')]));
      h.driver.deleted('foo', '1.0');
      release([]);
      assert.deepEqual(await reply, ['DONE', undefined]);
      assert.deepEqual(h.logged, []);
      await h.driver.stop();
    });
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

  test('BUILT without a BUILD before it is a protocol error; a sleeping slave expires after its busy timeout', async () => {
    const h = harness({ cp311: [] });
    await h.driver.start();
    await h.say('a', hello('cp311', 3600, 300));
    assert.deepEqual(await h.say('a', idle()), ['SLEEP', false]);
    h.tick(299_000);
    h.driver.removeExpired();
    assert.equal(h.driver.list().length, 1, 'asleep within its busy timeout');
    assert.deepEqual(await h.say('a', built(false)), ['DIE', undefined]);
    assert.equal(h.logged.length, 0);
    h.tick(301_000);
    h.driver.removeExpired();
    assert.equal(h.driver.list().length, 0, 'silent past its busy timeout');
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

describe('slave driver: no build waits for a slave that is gone', () => {
  test('a slave silent after BUILD is dropped within seconds, not its busy timeout, and its build goes to another', async () => {
    const h = harness();
    await h.driver.start();
    await h.say('a', hello('cp311', 3600, 300));
    assert.deepEqual(await h.say('a', idle()), ['BUILD', ['foo', '1.0']]);
    h.tick(15_000);
    h.driver.removeExpired();
    assert.equal(h.driver.list().length, 1, 'a BUSY may take a while');
    h.tick(6_000);
    h.driver.removeExpired();
    assert.equal(h.driver.list().length, 0, 'silent 21 s after BUILD');
    await h.say('b', hello('cp311', 3600, 300));
    assert.deepEqual(await h.say('b', idle()), ['BUILD', ['foo', '1.0']]);
    await h.driver.stop();
  });

  test('a slave silent mid-build (after CONT) is dropped and its build re-queued', async () => {
    const h = harness();
    await h.driver.start();
    await h.say('a', hello());
    await h.say('a', idle());
    for (let i = 0; i < 10; i++) {
      h.tick(10_000);
      assert.deepEqual(await h.say('a', busy()), ['CONT', undefined]);
      h.driver.removeExpired();
    }
    assert.equal(h.driver.list().length, 1, 'a slave saying BUSY every 10 s is kept');
    h.tick(21_000);
    h.driver.removeExpired();
    assert.equal(h.driver.list().length, 0);
    assert.deepEqual(h.queues.next('cp311', h.now), ['foo', '1.0']);
    await h.driver.stop();
  });

  test('a held IDLE answered with BUILD counts the silence from the answer', async () => {
    const h = harness({ cp311: [] }, 10_000);
    await h.driver.start();
    await h.say('a', hello());
    const held = h.driver.handle('a', idle());
    h.tick(9_000);
    h.queues.replace(new Map([['cp311', [['foo', '1.0']]]]), 0, 0);
    h.driver.wakeWaiting();
    assert.equal((await held)?.msg, 'BUILD');
    h.tick(15_000);
    h.driver.removeExpired();
    assert.equal(h.driver.list().length, 1, '24 s after the IDLE but 15 s after the BUILD');
    await h.driver.stop();
  });

  test('mid-transfer, frames on the file endpoint keep the slave; a stalled transfer re-queues the build', async () => {
    const h = harness();
    await h.driver.start();
    await h.say('a', hello());
    await h.say('a', idle());
    assert.equal((await h.say('a', built(true, [fileTuple('foo-1.0-py3-none-any.whl')])))?.[0], 'SEND');
    for (let i = 0; i < 6; i++) {
      h.tick(10_000);
      h.activity.set(1, h.now);
      h.driver.removeExpired();
    }
    assert.equal(h.driver.list().length, 1, 'a transfer making progress for a minute');
    h.tick(21_000);
    h.driver.removeExpired();
    assert.equal(h.driver.list().length, 0);
    assert.deepEqual(h.cancelled, [1], 'the half-received file is discarded');
    assert.deepEqual(h.queues.next('cp311', h.now), ['foo', '1.0']);
    await h.driver.stop();
  });

  test('a reply that cannot be delivered forgets the slave; the build it carried goes to a waiting slave at once', async () => {
    const h = harness({ cp311: [] }, 60_000);
    await h.driver.start();
    await h.say('a', hello());
    await h.say('b', hello());
    const heldA = h.driver.handle('a', idle());
    const heldB = h.driver.handle('b', idle());
    h.queues.replace(new Map([['cp311', [['foo', '1.0']]]]), 0, 0);
    h.driver.wakeWaiting();
    assert.deepEqual(await heldA, { msg: 'BUILD', data: ['foo', '1.0'] });
    h.driver.vanished('a', 'BUILD');
    assert.deepEqual(await heldB, { msg: 'BUILD', data: ['foo', '1.0'] });
    assert.deepEqual(h.driver.list().map((s) => s.id), [2]);
    assert.ok(h.statuses.some(([id, status]) => id === 1 && status === 'DIE'), 'monitors are told');
    await h.driver.stop();
  });

  test('a HELLO flood from new identities never grows the table past its limit; working slaves stay', async () => {
    const h = harness({ cp311: [] }, 0, 4);
    await h.driver.start();
    await h.say('worker', hello());
    assert.deepEqual(await h.say('worker', idle()), ['SLEEP', false]);
    for (let i = 0; i < 1000; i++) {
      const reply = await h.say(`flood${i}`, hello());
      assert.equal(reply?.[0], 'ACK', 'a newcomer displaces the stalest half-open entry');
      assert.ok(h.driver.list().length <= 4);
    }
    assert.ok(h.driver.list().some((s) => s.label === 'pi1' && s.lastReply === 'SLEEP'), 'the working slave stays');
    // with every place taken by slaves that asked for work, a newcomer is refused
    for (const name of ['x', 'y', 'z']) {
      await h.say(name, hello());
      await h.say(name, idle());
    }
    assert.equal(await h.say('late', hello()), undefined);
    assert.equal(h.driver.list().length, 4);
    // half-open entries do not linger either
    h.tick(21_000);
    await h.say('worker', idle());
    h.driver.removeExpired();
    h.queues.replace(new Map([['cp311', [['foo', '1.0']]]]), 0, 0);
    assert.deepEqual(await h.say('worker', idle()), ['BUILD', ['foo', '1.0']], 'the coordinator keeps serving a valid slave');
    await h.driver.stop();
  });

  test('over a real socket: a slave that vanishes while its IDLE is held does not take the next build', async () => {
    const h = harness({ cp311: [] }, 60_000);
    const driver = new SlaveDriver({
      deps: { queues: h.queues, transfers: { expect() {}, async verify() { return null; }, cancel() {}, lastActivity() { return undefined; } }, recorder: { async record() { return 1; } } },
      pypiSimple: 'http://index/simple',
      idleHoldMs: 60_000,
      address: 'tcp://127.0.0.1:0',
    });
    await driver.start();
    const peer = createSocket('REQ', { protocol: reverse(slaveProtocol), linger: 0 });
    try {
      peer.connect(driver.endpoint!);
      const helloData = hello();
      assert.ok(helloData.msg === 'HELLO');
      await peer.send('HELLO', helloData.data);
      assert.equal((await peer.recv(10))?.msg, 'ACK');
      await peer.send('IDLE', stats());
      await waitUntil(() => driver.list()[0]?.inFlight === true);
      peer.close(0);
      // let the disconnection reach the master's I/O thread; were it late, the
      // BUILD would vanish into the dead connection and the stall rule (20 s)
      // would re-queue it instead, as the wait below allows
      await new Promise((resolve) => setTimeout(resolve, 300));
      h.queues.replace(new Map([['cp311', [['foo', '1.0']]]]), 0, 0);
      driver.wakeWaiting();
      await waitUntil(() => driver.list().length === 0, 40_000);
      assert.deepEqual(h.queues.next('cp311', Date.now()), ['foo', '1.0'], 'the build is still to be built');
    } finally {
      peer.close(0);
      await driver.stop();
    }
  });
});

describe('slave driver: hostile peers on a real socket', () => {
  test('a HELLO flood from new identities and an oversized message; a valid slave is served afterwards', async () => {
    const h = harness({ cp311: [] });
    const driver = new SlaveDriver({
      deps: { queues: h.queues, transfers: { expect() {}, async verify() { return null; }, cancel() {}, lastActivity() { return undefined; } }, recorder: { async record() { return 1; } } },
      pypiSimple: 'http://index/simple',
      idleHoldMs: 0,
      maxSlaves: 16,
      address: 'tcp://127.0.0.1:0',
    });
    await driver.start();
    const helloData = hello();
    assert.ok(helloData.msg === 'HELLO');
    const peers: Array<ReturnType<typeof createSocket>> = [];
    try {
      // each DEALER is a new identity; the replies pile up unread on purpose
      for (let i = 0; i < 200; i++) {
        const flood = createSocket('DEALER', { linger: 0 });
        peers.push(flood);
        flood.connect(driver.endpoint!);
        await flood.sendRaw(['', encodeMessage(slaveProtocol.recv, 'HELLO', helloData.data)]);
      }
      const big = createSocket('DEALER', { linger: 0 });
      peers.push(big);
      big.connect(driver.endpoint!);
      await big.sendRaw(['', Buffer.alloc(DEFAULT_MAX_MESSAGE_SIZE + 1)]);
      await waitUntil(() => driver.list().length === 16);
      const good = createSocket('REQ', { protocol: reverse(slaveProtocol), linger: 0 });
      peers.push(good);
      good.connect(driver.endpoint!);
      await good.send('HELLO', helloData.data);
      const ack = await good.recv(10);
      assert.equal(ack?.msg, 'ACK');
      h.queues.replace(new Map([['cp311', [['foo', '1.0']]]]), 0, 0);
      await good.send('IDLE', stats());
      assert.deepEqual(await good.recv(10), { msg: 'BUILD', data: ['foo', '1.0'] });
      assert.ok(driver.list().length <= 16, 'the table never grew past its limit');
    } finally {
      for (const peer of peers) peer.close(0);
      await driver.stop();
    }
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
