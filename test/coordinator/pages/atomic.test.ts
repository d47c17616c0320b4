import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeDeadTemps } from '../../../coordinator/pages/atomic.ts';

test("a killed writer's temp files are removed; a live writer's and other files stay", () => {
  const dir = mkdtempSync(join(tmpdir(), 'piw-atomic-'));
  try {
    // a process that has exited: its id names no process now
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    assert.ok(gone !== undefined);
    const names = [
      `.index.html.${gone}-0-3.tmp`,
      `.x-1.0-py3-none-any.whl.metadata.${gone}-1-17.tmp`,
      `.index.html.${process.pid}-0-4.tmp`,
      'index.html',
      '.transfer-0123456789abcdef.tmp',
    ];
    for (const name of names) writeFileSync(join(dir, name), 'x');
    assert.equal(removeDeadTemps(dir), 2);
    assert.deepEqual(readdirSync(dir).sort(), [`.index.html.${process.pid}-0-4.tmp`, '.transfer-0123456789abcdef.tmp', 'index.html']);
    assert.equal(removeDeadTemps(join(dir, 'missing')), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
