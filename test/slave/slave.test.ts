import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Timedelta, UtcDateTime } from '../../shared/wire/cbor.ts';
import { silentLogger } from '../../shared/log.ts';
import { Slave, type SlaveOptions } from '../../slave/slave.ts';
import { fileSender } from '../../slave/transfer.ts';
import { readSystemStats } from '../../shared/sysinfo.ts';
import { isRunning } from '../../slave/process-group.ts';
import { makeFixtureIndex } from '../fixtures/packages/simple-index.ts';
import { FakeMaster, receiveFile } from '../helpers/fake-master.ts';

describe('slave protocol against a scripted master', () => {
  let root = '';
  let indexUrl = '';
  let n = 0;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'piw-slaveproto-'));
    indexUrl = makeFixtureIndex(root, ['e2e-pure', 'e2e-slow']).url;
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** Fresh endpoints and a slave aimed at them. */
  function setup(extra: Partial<SlaveOptions> = {}): { slave: Slave; slaveEndpoint: string; fileEndpoint: string; done: Promise<number> } {
    n++;
    const slaveEndpoint = `ipc://${join(root, `slave-${n}.sock`)}`;
    const fileEndpoint = `ipc://${join(root, `file-${n}.sock`)}`;
    const dir = join(root, `builds-${n}`);
    const slave = new Slave({
      slaveEndpoint,
      fileEndpoint,
      label: 'test-slave',
      timeoutMs: 120_000,
      masterTimeoutMs: 6000,
      replyTimeoutMs: 1000,
      dir,
      python: '/usr/bin/python3',
      extraIndexUrls: [],
      tags: { pyVersion: '311', abi: 'cp311', platform: 'linux_x86_64', version: '3.11.2' },
      os: { name: 'Debian GNU/Linux', version: '12 (bookworm)' },
      board: { revision: '', serial: '' },
      stats: () => readSystemStats(tmpdir()),
      sendFile: fileSender(30_000, silentLogger()),
      logger: silentLogger(),
      buildEnv: { PIP_FIND_LINKS: '' },
      busyIntervalMs: 300,
      napMs: [50, 100],
      ...extra,
    });
    return { slave, slaveEndpoint, fileEndpoint, done: slave.run() };
  }

  test('full session: HELLO, SLEEP, BUILD, BUSY/CONT, BUILT, SEND with file transfer, DONE, BYE', { timeout: 180_000 }, async () => {
    const { slave, slaveEndpoint, fileEndpoint, done } = setup();
    const master = await FakeMaster.start(slaveEndpoint);
    try {
      const hello = await master.expect('HELLO');
      const [buildTimeout, busyTimeout, pyVersion, abi, platform, label, osName, osVersion, revision, serial] = hello.data;
      assert.ok(buildTimeout.equals(new Timedelta(0, 120)));
      assert.ok(busyTimeout.equals(new Timedelta(0, 6)));
      assert.deepEqual([pyVersion, abi, platform, label, osName, osVersion, revision, serial], [
        '311', 'cp311', 'linux_x86_64', 'test-slave', 'Debian GNU/Linux', '12 (bookworm)', '', '',
      ]);
      await master.router.sendAddr(hello.address, 'ACK', [7, indexUrl]);

      const idle = await master.expect('IDLE');
      const [stamp, diskSize, diskFree, memSize, memFree, , , load, temp] = idle.data;
      assert.ok(stamp instanceof UtcDateTime);
      assert.ok(Math.abs(stamp.toDate().getTime() - Date.now()) < 60_000);
      assert.ok(diskSize > 0 && diskFree <= diskSize && memSize > 0 && memFree <= memSize);
      assert.equal(typeof load, 'number');
      assert.equal(typeof temp, 'number');
      assert.equal(slave.id, 7);
      await master.router.sendAddr(idle.address, 'SLEEP', false);

      const idle2 = await master.expect('IDLE');
      await master.router.sendAddr(idle2.address, 'BUILD', ['e2e-pure', '1.1']);
      const built = await master.untilBuilt(await master.expect('BUSY'));
      const [status, duration, output, files] = built.data;
      assert.equal(status, true, output);
      assert.ok(duration.totalSeconds() > 0);
      assert.equal(files.length, 1);
      const [filename, filesize, filehash, packageTag, versionTag, pyTag, abiTag, platformTag, requiresPython, deps, location] = files[0]!;
      assert.equal(filename, 'e2e_pure-1.1-py3-none-any.whl');
      assert.deepEqual([packageTag, versionTag, pyTag, abiTag, platformTag], ['e2e_pure', '1.1', 'py3', 'none', 'any']);
      assert.equal(requiresPython, '>=3.7');
      assert.deepEqual(deps, { apt: [], pip: [], '': [] });
      assert.equal(location, '/simple');

      const receiver = receiveFile(fileEndpoint, filesize);
      await receiver.ready;
      await master.router.sendAddr(built.address, 'SEND', filename);
      const file = await receiver.done;
      assert.equal(file.slaveId, '7');
      assert.equal(file.data.length, filesize);
      assert.equal(createHash('sha256').update(file.data).digest('hex'), filehash);
      const sent = await master.expect('SENT');
      await master.router.sendAddr(sent.address, 'DONE');
      const idle3 = await master.expect('IDLE');
      await master.router.sendAddr(idle3.address, 'SLEEP', true);
      const idle4 = await master.expect('IDLE');
      slave.stop('test over');
      await master.router.sendAddr(idle4.address, 'SLEEP', false);
      await master.expect('BYE');
      assert.equal(await done, 0);
    } finally {
      slave.stop();
      master.close();
      await done;
    }
  });

  test('DONE during BUSY stops the build, kills its processes and goes back to IDLE', { timeout: 180_000 }, async () => {
    const pidfile = join(root, 'abort.pids');
    const { slave, slaveEndpoint, done } = setup({ buildEnv: { PIP_FIND_LINKS: '', E2E_SLOW_PIDFILE: pidfile } });
    const master = await FakeMaster.start(slaveEndpoint);
    try {
      const hello = await master.expect('HELLO');
      await master.router.sendAddr(hello.address, 'ACK', [1, indexUrl]);
      const idle = await master.expect('IDLE');
      await master.router.sendAddr(idle.address, 'BUILD', ['e2e-slow', '1.0']);
      let busy = await master.expect('BUSY');
      // Keep it going until setup.py and its children are all up.
      while (!existsSync(pidfile) || readFileSync(pidfile, 'utf8').trim().split('\n').length < 3) {
        await master.router.sendAddr(busy.address, 'CONT');
        busy = await master.expect('BUSY');
      }
      const pids = readFileSync(pidfile, 'utf8').trim().split('\n').map(Number);
      await master.router.sendAddr(busy.address, 'DONE');
      const after = await master.expect('IDLE');
      for (const pid of pids) assert.equal(isRunning(pid), false, `build process ${pid} survived`);
      slave.stop();
      await master.router.sendAddr(after.address, 'SLEEP', false);
      await master.expect('BYE');
    } finally {
      slave.stop();
      master.close();
      await done;
    }
  });

  test('a silent master gets a new HELLO on a new connection', { timeout: 180_000 }, async () => {
    const { slave, slaveEndpoint, done } = setup();
    const master = await FakeMaster.start(slaveEndpoint);
    try {
      const hello = await master.expect('HELLO');
      await master.router.sendAddr(hello.address, 'ACK', [3, indexUrl]);
      const idle = await master.expect('IDLE');
      // No reply to IDLE: the slave gives up on this connection and starts over.
      const again = await master.expect('HELLO', 30);
      assert.notDeepEqual(again.address, idle.address, 'a new socket, so a new identity');
      assert.equal(slave.sessions, 2);
      await master.router.sendAddr(again.address, 'ACK', [4, indexUrl]);
      await master.expect('IDLE');
      assert.equal(slave.id, 4);
    } finally {
      slave.stop();
      master.close();
      await done;
    }
  });

  test('after a master restart the slave is back at work', { timeout: 180_000 }, async () => {
    const { slave, slaveEndpoint, done } = setup();
    let master = await FakeMaster.start(slaveEndpoint);
    try {
      const hello = await master.expect('HELLO');
      await master.router.sendAddr(hello.address, 'ACK', [5, indexUrl]);
      await master.expect('IDLE');
      // The master dies holding our IDLE and comes back on the same endpoint.
      master.close();
      master = await FakeMaster.start(slaveEndpoint);
      const rehello = await master.expect('HELLO', 30);
      await master.router.sendAddr(rehello.address, 'ACK', [1, indexUrl]);
      const idle = await master.expect('IDLE');
      await master.router.sendAddr(idle.address, 'BUILD', ['e2e-pure', '1.1']);
      const built = await master.untilBuilt(await master.expect('BUSY'));
      assert.equal(built.data[0], true);
      await master.router.sendAddr(built.address, 'DONE');
      await master.expect('IDLE');
    } finally {
      slave.stop();
      master.close();
      await done;
    }
  });

  test('a dropped connection is noticed at once, idle or building: HELLO again, and the build carries on', { timeout: 180_000 }, async () => {
    // Reply timeouts far beyond the waits below: only the dropped connection
    // can explain a new HELLO in time.
    const { slave, slaveEndpoint, done } = setup({ replyTimeoutMs: 120_000, masterTimeoutMs: 600_000 });
    let master = await FakeMaster.start(slaveEndpoint);
    try {
      const hello = await master.expect('HELLO');
      await master.router.sendAddr(hello.address, 'ACK', [1, indexUrl]);
      await master.expect('IDLE');
      // idle: the master goes away holding our IDLE
      master.close();
      master = await FakeMaster.start(slaveEndpoint);
      const second = await master.expect('HELLO', 30);
      await master.router.sendAddr(second.address, 'ACK', [2, indexUrl]);
      const idle = await master.expect('IDLE');
      await master.router.sendAddr(idle.address, 'BUILD', ['e2e-pure', '1.1']);
      await master.expect('BUSY');
      // building: the master goes away holding our BUSY
      master.close();
      master = await FakeMaster.start(slaveEndpoint);
      const third = await master.expect('HELLO', 30);
      assert.equal(slave.sessions, 3);
      await master.router.sendAddr(third.address, 'ACK', [3, indexUrl]);
      const again = await master.expect('IDLE');
      await master.router.sendAddr(again.address, 'BUILD', ['e2e-pure', '1.1']);
      const built = await master.untilBuilt(await master.expect('BUSY'));
      assert.equal(built.data[0], true);
      await master.router.sendAddr(built.address, 'DONE');
      await master.expect('IDLE');
      assert.equal(slave.id, 3);
    } finally {
      slave.stop();
      master.close();
      await done;
    }
  });

  test('a finished build survives a reconnect and is reported again when the same job comes back', { timeout: 180_000 }, async () => {
    const { slave, slaveEndpoint, done } = setup();
    const master = await FakeMaster.start(slaveEndpoint);
    try {
      const hello = await master.expect('HELLO');
      await master.router.sendAddr(hello.address, 'ACK', [1, indexUrl]);
      const idle = await master.expect('IDLE');
      await master.router.sendAddr(idle.address, 'BUILD', ['e2e-pure', '1.1']);
      const first = await master.untilBuilt(await master.expect('BUSY'));
      // Silence after BUILT (the master went away before recording it).
      const rehello = await master.expect('HELLO', 30);
      await master.router.sendAddr(rehello.address, 'ACK', [2, indexUrl]);
      const idle2 = await master.expect('IDLE');
      await master.router.sendAddr(idle2.address, 'BUILD', ['e2e-pure', '1.1']);
      const second = await master.untilBuilt(await master.expect('BUSY'));
      // The same build, not a new one: the log (temporary paths, timestamps) is identical.
      assert.equal(second.data[2], first.data[2]);
      assert.deepEqual(second.data[3], first.data[3]);
      await master.router.sendAddr(second.address, 'DONE');
      await master.expect('IDLE');
    } finally {
      slave.stop();
      master.close();
      await done;
    }
  });

  test('garbage and out-of-place replies do not crash it: it starts over', { timeout: 180_000 }, async () => {
    const { slave, slaveEndpoint, done } = setup();
    const master = await FakeMaster.start(slaveEndpoint);
    try {
      const hello1 = await master.expect('HELLO');
      await master.router.sendRaw([hello1.address, '', Buffer.from('this is not CBOR \xff\xfe')]);
      const hello2 = await master.expect('HELLO');
      await master.router.sendRaw([hello2.address, '', Buffer.from('8263414b4b8201', 'hex')]);
      const hello3 = await master.expect('HELLO');
      await master.router.sendAddr(hello3.address, 'CONT');
      const hello4 = await master.expect('HELLO');
      await master.router.sendAddr(hello4.address, 'ACK', [9, indexUrl]);
      const idle = await master.expect('IDLE');
      await master.router.sendAddr(idle.address, 'SEND', 'evil/../../etc/passwd');
      const hello5 = await master.expect('HELLO');
      await master.router.sendAddr(hello5.address, 'ACK', [10, indexUrl]);
      const idle2 = await master.expect('IDLE');
      assert.equal(slave.id, 10);
      assert.equal(slave.sessions, 5);
      await master.router.sendAddr(idle2.address, 'DIE');
      await master.expect('BYE');
      assert.equal(await done, 0, 'DIE ends the slave cleanly');
    } finally {
      slave.stop();
      master.close();
      await done;
    }
  });

  test('stopping mid-build kills the build and says BYE', { timeout: 180_000 }, async () => {
    const pidfile = join(root, 'stop.pids');
    const { slave, slaveEndpoint, done } = setup({ buildEnv: { PIP_FIND_LINKS: '', E2E_SLOW_PIDFILE: pidfile } });
    const master = await FakeMaster.start(slaveEndpoint);
    try {
      const hello = await master.expect('HELLO');
      await master.router.sendAddr(hello.address, 'ACK', [1, indexUrl]);
      const idle = await master.expect('IDLE');
      await master.router.sendAddr(idle.address, 'BUILD', ['e2e-slow', '1.0']);
      let busy = await master.expect('BUSY');
      while (!existsSync(pidfile) || readFileSync(pidfile, 'utf8').trim().split('\n').length < 3) {
        await master.router.sendAddr(busy.address, 'CONT');
        busy = await master.expect('BUSY');
      }
      const pids = readFileSync(pidfile, 'utf8').trim().split('\n').map(Number);
      await master.router.sendAddr(busy.address, 'CONT');
      slave.stop('SIGTERM');
      await master.expect('BYE');
      assert.equal(await done, 0);
      for (const pid of pids) assert.equal(isRunning(pid), false, `build process ${pid} survived`);
    } finally {
      slave.stop();
      master.close();
      await done;
    }
  });
});
