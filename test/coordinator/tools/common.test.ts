import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useToolCurve, type CommonFlags } from '../../../coordinator/tools/common.ts';

const flags = (more: Partial<CommonFlags>): CommonFlags => ({ verbose: 0, quiet: 0, ...more });

test('CURVE settings are read from the tool\'s own table beside its other settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'piw-tool-curve-'));
  try {
    const file = join(dir, 'piwheels.toml');
    writeFileSync(
      file,
      `[remove]\nimport-queue = "tcp://master:5557"\ncurve-secret = "${join(dir, 'op.key_secret')}"\ncurve-server = "${join(dir, 'master.key')}"\n`,
    );
    // the keys are taken (the certificate is then looked for), the table's other setting is no error
    assert.throws(() => useToolCurve('remove', flags({ configuration: file })), /cannot read the certificate .*op\.key_secret/);
    writeFileSync(file, '[remove]\nimport-queue = "tcp://master:5557"\n');
    assert.doesNotThrow(() => useToolCurve('remove', flags({ configuration: file })));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('half a CURVE setting is refused', () => {
  assert.throws(() => useToolCurve('remove', flags({ curveSecret: 'op.key_secret' })), /CURVE needs both curve-secret/);
});
