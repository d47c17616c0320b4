// The deployment files in the repository are valid: systemd accepts the
// units without a warning, nginx accepts the site config, and the sample
// /etc/piwheels.toml loads in the programs that read it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromArgv as masterConfig } from '../../coordinator/master.ts';
import { loadSlaveConfig } from '../../slave/config.ts';

const REPO = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const UNITS = join(REPO, 'deploy', 'systemd');

function verify(paths: string[]): { status: number | null; output: string } {
  const result = spawnSync('systemd-analyze', ['verify', '--man=no', ...paths], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

describe('systemd units', () => {
  const units = readdirSync(UNITS).filter((name) => name.endsWith('.service'));

  test('master, slave and logger units exist and run as the unprivileged piwheels user', () => {
    assert.deepEqual(units.sort(), ['piw-logger.service', 'piw-master.service', 'piw-slave.service']);
    for (const unit of units) {
      const text = readFileSync(join(UNITS, unit), 'utf8');
      assert.match(text, /^User=piwheels$/m, unit);
      assert.match(text, /^NoNewPrivileges=yes$/m, unit);
      assert.match(text, /^ProtectSystem=strict$/m, unit);
      assert.match(text, /^CapabilityBoundingSet=$/m, unit);
    }
  });

  test('systemd-analyze verify passes without a warning', () => {
    const { status, output } = verify(units.map((unit) => join(UNITS, unit)));
    assert.equal(status, 0, output);
    assert.equal(output, '');
  });

  test('verify does complain about a broken unit (the check above can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'piw-units-'));
    try {
      const broken = readFileSync(join(UNITS, 'piw-master.service'), 'utf8').replace(/^Type=exec$/m, 'Type=sometimes');
      writeFileSync(join(dir, 'piw-master.service'), broken);
      assert.match(verify([join(dir, 'piw-master.service')]).output, /Failed to parse service type/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the programs the units start exist', () => {
    for (const unit of units) {
      const exec = /^ExecStart=(.*)$/m.exec(readFileSync(join(UNITS, unit), 'utf8'))?.[1] ?? '';
      const scripts = [...exec.matchAll(/\/opt\/piwheels\/(bin\/[a-z-]+\.js)/g)].map((m) => m[1] as string);
      assert.ok(scripts.length > 0, unit);
      for (const script of scripts) assert.ok(existsSync(join(REPO, script)), `${unit}: ${script}`);
    }
  });
});

describe('nginx site config', () => {
  function nginxTest(site: string): { status: number | null; output: string } {
    const dir = mkdtempSync(join(tmpdir(), 'piw-nginx-'));
    try {
      mkdirSync(join(dir, 'www'));
      const conf = join(dir, 'nginx.conf');
      writeFileSync(
        conf,
        `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 16; }\nhttp {\n  include /etc/nginx/mime.types;\n` +
          `  client_body_temp_path ${dir}/cb;\n  proxy_temp_path ${dir}/p;\n  fastcgi_temp_path ${dir}/f;\n  uwsgi_temp_path ${dir}/u;\n  scgi_temp_path ${dir}/s;\n` +
          `  include ${site};\n}\n`,
      );
      const result = spawnSync('/usr/sbin/nginx', ['-t', '-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { encoding: 'utf8', timeout: 60_000 });
      return { status: result.status, output: `${result.stdout}${result.stderr}` };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('nginx -t accepts deploy/nginx/piwheels.conf as shipped', () => {
    const { status, output } = nginxTest(join(REPO, 'deploy', 'nginx', 'piwheels.conf'));
    assert.equal(status, 0, output);
    assert.match(output, /syntax is ok/);
  });

  test('nginx -t rejects a broken copy (the check above can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'piw-nginx-site-'));
    try {
      const site = join(dir, 'broken.conf');
      writeFileSync(site, readFileSync(join(REPO, 'deploy', 'nginx', 'piwheels.conf'), 'utf8').replace('autoindex off;', 'autoindex maybe;'));
      const { status, output } = nginxTest(site);
      assert.notEqual(status, 0);
      assert.match(output, /autoindex/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sample /etc/piwheels.toml', () => {
  const file = join(REPO, 'deploy', 'piwheels.toml');

  test('piw-master reads its table', () => {
    const { config } = masterConfig(['-c', file], {});
    assert.equal(config.dsn, 'postgres:///piwheels?host=/var/run/postgresql');
    assert.equal(config.outputPath, '/var/www/piwheels');
    assert.equal(config.statusQueue, 'ipc:///run/piwheels/status');
    assert.equal(config.logQueue, 'ipc:///run/piwheels/logger');
  });

  test('piw-slave reads its table', () => {
    const config = loadSlaveConfig({}, {}, file);
    assert.equal(config.master, 'piwheels-master.lan');
  });
});
