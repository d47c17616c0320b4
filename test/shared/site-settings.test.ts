import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../shared/cli.ts';
import { loadSiteOptions } from '../../shared/site-settings.ts';

describe('site settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'piw-site-settings-'));
  const file = join(dir, 'piwheels.toml');
  writeFileSync(file, '[master]\ndsn = "x.sqlite"\n\n[site]\nbase-url = "https://file.example/"\nname = "File farm"\ncontact = "ops@file.example"\n');

  test('the [site] table, the other tables ignored, the trailing slash dropped', () => {
    assert.deepEqual(loadSiteOptions({ file }), { baseUrl: 'https://file.example', name: 'File farm', contact: 'ops@file.example' });
  });

  test('flags over PIW_* over the file', () => {
    const env = { PIW_BASE_URL: 'https://env.example', PIW_SITE_NAME: 'Env farm' };
    assert.deepEqual(loadSiteOptions({ file, env }), { baseUrl: 'https://env.example', name: 'Env farm', contact: 'ops@file.example' });
    assert.equal(loadSiteOptions({ file, env, flags: { baseUrl: 'http://flag.example:8080' } }).baseUrl, 'http://flag.example:8080');
  });

  test('nothing given: the fallback address, never another farm', () => {
    assert.deepEqual(loadSiteOptions({ fallbackBaseUrl: 'http://127.0.0.1:8080' }), { baseUrl: 'http://127.0.0.1:8080', name: 'piwheels', contact: null });
    assert.match(loadSiteOptions({}).baseUrl, /^http:\/\//);
    assert.doesNotMatch(loadSiteOptions({}).baseUrl, /piwheels\.org/);
  });

  test('a bad address is one error naming where it came from', () => {
    assert.throws(() => loadSiteOptions({ env: { PIW_BASE_URL: 'ftp://x' } }), (error: unknown) => error instanceof UserError && /PIW_BASE_URL/.test(error.message));
  });

  test.after(() => rmSync(dir, { recursive: true, force: true }));
});
