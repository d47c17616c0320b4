// piw-monitor in a real terminal (tmux) against the real piw-master with a
// real piw-slave attached: the slave shows up, and a SLEEP chosen in the
// monitor reaches the slave (the master answers its next IDLE with
// SLEEP true, "paused"), as does the WAKE after it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { MonitorModel, renderScreen } from '../../../coordinator/tools/monitor-state.ts';
import { keyAction } from '../../../coordinator/tools/monitor.ts';
import { Timedelta, UtcDateTime } from '../../../shared/wire/cbor.ts';
import { createDatabase, tempDir, type TestDatabase } from '../../helpers/tool-db.ts';
import { startTmux, until, type Tmux } from '../../helpers/tool-harness.ts';
import { freePort } from '../../helpers/farm.ts';

describe('monitor model', () => {
  test('slave messages become rows, states and a log; junk is counted, not fatal', () => {
    const model = new MonitorModel();
    const t = UtcDateTime.fromDate(new Date('2026-11-25T10:00:00Z'));
    model.apply({ msg: 'SLAVE', data: [3, t, 'STATS', null] });
    assert.equal(model.ignored, 1);
    const hello = [Timedelta.fromSeconds(3600), Timedelta.fromSeconds(300), '3.11', 'cp311', 'linux_aarch64', 'pi-1', 'Debian', '12', 'c03111', '1234'];
    model.apply({ msg: 'SLAVE', data: [3, t, 'HELLO', hello] });
    model.apply({ msg: 'SLAVE', data: [3, t, 'BUILD', ['numpy', '1.26.4']] });
    model.apply({ msg: 'SLAVE', data: [3, t, 'HELLO', ['not', 'a', 'hello']] });
    const slave = model.slaves.get(3);
    assert.equal(slave?.label, 'pi-1');
    assert.equal(slave?.status, 'Building numpy 1.26.4');
    assert.equal(model.ignored, 2);
    const screen = renderScreen(model, 3, new Date('2026-11-25T10:00:05Z'), 150, 30, null);
    assert.ok(screen.selectedLine > 0);
    assert.match(screen.lines[screen.selectedLine]!, /3 {2}pi-1 +cp311 +linux_aarch64 +building +Building numpy 1\.26\.4/);
    assert.ok(screen.lines.some((l) => l.includes('BUILD numpy 1.26.4')));
    assert.equal(screen.lines.length, 30);
    assert.ok(screen.lines.every((l) => l.length === 150), 'every line, blank ones too, spans the width');
  });

  test('statistics per build target, slaves with their platform', () => {
    const model = new MonitorModel();
    const t = UtcDateTime.fromDate(new Date('2026-11-25T10:00:00Z'));
    model.apply({
      msg: 'STATS',
      data: [
        t, 12, { 'cp311-linux_aarch64': 3, 'cp311-linux_armv7l': 1 }, Timedelta.fromSeconds(60), 1000,
        { 'cp311-linux_aarch64': 7, 'cp311-linux_armv7l': 2 }, 0, 20, 0, 0, 0, 1e9, 5e8, 1e9, 5e8, 0, 0, 0.5, 40.0,
      ],
    });
    for (const [id, platform] of [[4, 'linux_armv7l'], [5, 'linux_aarch64']] as const) {
      const hello = [Timedelta.fromSeconds(3600), Timedelta.fromSeconds(300), '3.11', 'cp311', platform, `pi-${id}`, 'Debian', '12', '', ''];
      model.apply({ msg: 'SLAVE', data: [id, t, 'HELLO', hello] });
    }
    const screen = renderScreen(model, null, new Date('2026-11-25T10:00:05Z'), 200, 30, null);
    assert.ok(screen.lines.some((l) => l.includes('Builds/hour cp311-linux_aarch64:3 cp311-linux_armv7l:1   Pending cp311-linux_aarch64:7 cp311-linux_armv7l:2')));
    assert.deepEqual(model.ordered().map((s) => s.platform), ['linux_aarch64', 'linux_armv7l'], 'by target');
  });

  test("our master's reasons show: a slave short of disk, and how its last build ended", () => {
    const model = new MonitorModel();
    const t = UtcDateTime.fromDate(new Date('2026-11-25T10:00:00Z'));
    const hello = [Timedelta.fromSeconds(3600), Timedelta.fromSeconds(300), '3.11', 'cp311', 'linux_aarch64', 'pi-2', 'Debian', '12', 'c03111', '1234'];
    model.apply({ msg: 'SLAVE', data: [4, t, 'HELLO', hello] });
    model.apply({ msg: 'SLAVE', data: [4, t, 'SLEEP', 'no builds: disk 10.0 MB free of 30.0 GB, needs 1.0 GB'] });
    assert.equal(model.slaves.get(4)?.status, 'no builds: disk 10.0 MB free of 30.0 GB, needs 1.0 GB');
    model.apply({ msg: 'SLAVE', data: [4, t, 'SLEEP', false] });
    assert.equal(model.slaves.get(4)?.status, 'Waiting for jobs', "piwheels' flag reads as before");
    model.apply({ msg: 'SLAVE', data: [4, t, 'DONE', 'foo 1.0 failed (upstream, try 1): retry at 2026-11-25T10:05:00Z'] });
    model.apply({ msg: 'SLAVE', data: [4, t, 'DONE', null] });
    assert.equal(model.slaves.get(4)?.lastResult, 'foo 1.0 failed (upstream, try 1): retry at 2026-11-25T10:05:00Z', 'a DONE without news keeps the last');
    const screen = renderScreen(model, 4, new Date('2026-11-25T10:00:05Z'), 150, 30, null);
    assert.ok(screen.lines.some((l) => l.startsWith('Last build: foo 1.0 failed (upstream, try 1)')));
  });

  test('keys map to actions; capitals act on all slaves', () => {
    assert.deepEqual(keyAction('s'), { action: 'SLEEP', all: false });
    assert.deepEqual(keyAction('K'), { action: 'KILL', all: true });
    assert.equal(keyAction('z'), null);
    assert.equal(keyAction('UP'), null);
  });
});

describe('piw-monitor in tmux against piw-master and piw-slave', () => {
  let t: TestDatabase;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const children: ChildProcess[] = [];
  const session = `piwmon${randomBytes(4).toString('hex')}`;
  let masterLog = '';
  let tmux: Tmux | undefined;
  const pane = (): string => tmux!.pane();
  const keys = (key: string): void => tmux!.keys(key);

  before(async () => {
    t = await createDatabase('sqlite', ['cp311']);
    dir = await tempDir();
    const [slavePort, filePort] = [await freePort(), await freePort()];
    const q = (name: string): string => `ipc://${join(dir.path, name)}`;
    const master = spawn(
      process.execPath,
      ['bin/piw-master.js', '-d', t.dsn, '-o', join(dir.path, 'www'), '--no-follow', '--idle-hold', '1',
        '--status-queue', q('status'), '--control-queue', q('control'), '--import-queue', q('import'), '--log-queue', q('logger'),
        '--slave-queue', `tcp://127.0.0.1:${slavePort}`, '--file-queue', `tcp://127.0.0.1:${filePort}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    master.stderr!.on('data', (d: Buffer) => (masterLog += d.toString()));
    children.push(master);
    await until(() => masterLog.includes('all tasks started'), `piw-master to start: ${masterLog}`, 180);
    const slave = spawn(
      process.execPath,
      ['bin/piw-slave.js', '--allow-root', '-L', 'tmux-test-pi', '--python', '/usr/bin/python3', '-d', dir.path,
        '--slave-endpoint', `tcp://127.0.0.1:${slavePort}`, '--file-endpoint', `tcp://127.0.0.1:${filePort}`],
      { stdio: 'ignore' },
    );
    children.push(slave);
    const command = `${process.execPath} bin/piw-monitor.js --status-queue ${q('status')} --control-queue ${q('control')}`;
    tmux = startTmux(session, command);
  });

  after(async () => {
    tmux?.kill();
    for (const child of children.reverse()) {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
    await t.cleanup();
    await dir.cleanup();
  });

  test('the slave appears, and SLEEP then WAKE chosen in the monitor reach it', async () => {
    await until(() => pane().includes('tmux-test-pi'), 'the slave in the monitor', 120);
    assert.match(pane(), /1 {2}tmux-test-pi +cp311/);
    keys('s');
    await until(() => pane().includes('Sleep slave 1 (tmux-test-pi)? [y/N]'), 'the confirmation');
    keys('y');
    await until(() => masterLog.includes('sleep slave 1'), 'the master to take the SLEEP');
    // the master's answer to the slave's next IDLE: SLEEP, paused
    await until(() => pane().includes('SLEEP true'), 'SLEEP true in the slave log');
    keys('w');
    await until(() => pane().includes('Wake slave 1'), 'the wake confirmation');
    keys('y');
    await until(() => /SLEEP true[\s\S]*SLEEP false/.test(pane()), 'SLEEP false after the wake');
    keys('q');
    await until(() => tmux!.gone(), 'the monitor to exit on q');
  });
});
