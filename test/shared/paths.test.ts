import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleName, moduleUrl, repoPath, workerEntry } from '../../shared/paths.ts';

test('a bundle is named by its source path, one flat name per module', () => {
  assert.equal(bundleName('coordinator/pages/scribe-thread.ts'), 'coordinator.pages.scribe-thread.js');
  assert.equal(bundleName('shared/db/index.ts'), 'shared.db.index.js');
  assert.notEqual(bundleName('a/b-c.ts'), bundleName('a-b/c.ts'));
});

test('from the sources, modules are the .ts files and worker threads boot through the tsx loader', () => {
  const url = moduleUrl('shared/db/index.ts');
  assert.ok(existsSync(fileURLToPath(url)), url.href);
  assert.match(url.pathname, /\/shared\/db\/index\.ts$/);
  const entry = workerEntry('coordinator/runtime/worker-thread-entry.ts');
  assert.match(entry.filename.pathname, /\/shared\/tsx-worker\.mjs$/);
  assert.deepEqual(entry.argv, [moduleUrl('coordinator/runtime/worker-thread-entry.ts').href]);
});

test('the checkout root holds package.json and the SQL', () => {
  assert.ok(existsSync(repoPath('package.json')));
  assert.ok(existsSync(repoPath('sql', 'sqlite')));
});
