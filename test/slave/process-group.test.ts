import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { groupMembers, isRunning, killGroup, trackGroup } from '../../slave/process-group.ts';

const MODULE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'slave', 'process-group.ts');

/** A detached shell that starts two sleepers, one of which ignores SIGTERM. */
function startTree(): number {
  const child = spawn('sh', ['-c', "sleep 300 & (trap '' TERM; sleep 300) & wait"], { detached: true, stdio: 'ignore' });
  child.unref();
  assert.ok(child.pid !== undefined);
  return child.pid;
}

async function waitForMembers(pgid: number, count: number): Promise<number[]> {
  for (let i = 0; i < 400; i++) {
    const members = groupMembers(pgid);
    if (members.length >= count) return members;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`group ${pgid} never had ${count} members`);
}

describe('process groups', () => {
  test('killGroup ends every member, SIGKILL for those ignoring SIGTERM', async () => {
    const pgid = startTree();
    const members = await waitForMembers(pgid, 3);
    await killGroup(pgid, 500);
    assert.deepEqual(groupMembers(pgid), []);
    for (const pid of members) assert.equal(isRunning(pid), false, `${pid} survived`);
  });

  test('killing a group that is already gone is harmless', async () => {
    await killGroup(2 ** 22 + 12345, 10);
    assert.equal(isRunning(2 ** 22 + 12345), false);
  });

  test('tracked groups die with the process that started them', async () => {
    // A child process tracks a group of its own making and exits without cleaning up.
    const script = [
      `import { spawn } from 'node:child_process';`,
      `import { trackGroup } from ${JSON.stringify(MODULE)};`,
      `const c = spawn('sh', ['-c', 'sleep 300 & sleep 300 & wait'], { detached: true, stdio: 'ignore' });`,
      `trackGroup(c.pid);`,
      `console.log(c.pid);`,
      `setTimeout(() => process.exit(3), 500);`,
    ].join('\n');
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 3, result.stderr);
    const pgid = Number(result.stdout.trim());
    assert.ok(pgid > 0);
    for (let i = 0; i < 200 && groupMembers(pgid).length > 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(groupMembers(pgid), []);
  });

  test('trackGroup in this process does not kill anything while it runs', async () => {
    const pgid = startTree();
    await waitForMembers(pgid, 3);
    trackGroup(pgid);
    assert.ok(groupMembers(pgid).length >= 3);
    await killGroup(pgid, 200);
    assert.deepEqual(groupMembers(pgid), []);
  });
});
