import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { camelKey, envBoolean, envInteger, envName, loadConfig, zmqAddress } from '../../shared/config.ts';
import { UserError } from '../../shared/cli.ts';

const schema = z.object({
  dsn: z.string().default('sqlite:piwheels.db'),
  outputPath: z.string().default('/var/www'),
  devMode: envBoolean.default(false),
  timeout: envInteger.default(300),
  slaveQueue: zmqAddress.default('tcp://*:5555'),
});

function tempFile(text: string): { path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'piw-config-'));
  const path = join(dir, 'piwheels.toml');
  writeFileSync(path, text);
  return { path, done: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('config', () => {
  test('key spellings', () => {
    assert.equal(camelKey('output-path'), 'outputPath');
    assert.equal(camelKey('output_path'), 'outputPath');
    assert.equal(envName('outputPath'), 'PIW_OUTPUT_PATH');
  });

  test('defaults when nothing is given', () => {
    const config = loadConfig(schema, {});
    assert.deepEqual(config, {
      dsn: 'sqlite:piwheels.db', outputPath: '/var/www', devMode: false, timeout: 300, slaveQueue: 'tcp://*:5555',
    });
  });

  test('flags over env over file over defaults', () => {
    const file = tempFile('dsn = "from-file"\noutput-path = "/file"\ntimeout = 5\n[master]\ndev_mode = true\n[slave]\ntimeout = 99\n');
    try {
      const config = loadConfig(schema, {
        file: file.path,
        section: 'master',
        env: { PIW_OUTPUT_PATH: '/env', PIW_TIMEOUT: '7', PIW_UNRELATED: 'x' },
        flags: { outputPath: '/flag', dsn: undefined },
      });
      assert.equal(config.dsn, 'from-file');
      assert.equal(config.outputPath, '/flag');
      assert.equal(config.timeout, 7);
      assert.equal(config.devMode, true);
    } finally {
      file.done();
    }
  });

  test('default files are optional, the explicit file is not', () => {
    const config = loadConfig(schema, { defaultFiles: ['/nonexistent/piwheels.toml'] });
    assert.equal(config.dsn, 'sqlite:piwheels.db');
    assert.throws(() => loadConfig(schema, { file: '/nonexistent/piwheels.toml' }), /cannot read configuration file/);
  });

  test('bad input names its source', () => {
    assert.throws(
      () => loadConfig(schema, { env: { PIW_TIMEOUT: 'soon' } }),
      (error: unknown) => error instanceof UserError && /timeout: .*environment PIW_TIMEOUT/.test(error.message),
    );
    assert.throws(
      () => loadConfig(schema, { flags: { slaveQueue: 'localhost:5555' } }),
      (error: unknown) => error instanceof UserError && /slaveQueue: expected a ZeroMQ address.*option --slave-queue/.test(error.message),
    );
    assert.throws(() => loadConfig(schema, { env: { PIW_DEV_MODE: 'maybe' } }), /devMode/);
  });

  test('unknown keys and broken TOML in the file are refused', () => {
    const typo = tempFile('outptu-path = "/x"\n');
    const broken = tempFile('dsn = \n');
    try {
      assert.throws(() => loadConfig(schema, { file: typo.path }), /unknown setting "outptu-path"/);
      assert.throws(() => loadConfig(schema, { file: broken.path }), /not valid TOML/);
    } finally {
      typo.done();
      broken.done();
    }
  });
});
