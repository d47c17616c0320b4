import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { buildEnvironment, dpkgDigest, parseToolVersions, probeEnvironment, reproduceCommand, shellQuote } from '../../slave/environment.ts';
import { parseEnvironment, frameLog } from '../../shared/build-log.ts';

test('tool versions from the probe, unknown when it says nothing useful', () => {
  assert.deepEqual(parseToolVersions('noise\n{"python": "3.11.2", "pip": "23.0.1", "setuptools": null, "wheel": "0.38.4"}\n'), {
    python: '3.11.2', pip: '23.0.1', setuptools: null, wheel: '0.38.4',
  });
  assert.deepEqual(parseToolVersions(''), { python: 'unknown', pip: null, setuptools: null, wheel: null });
  assert.deepEqual(parseToolVersions('{"python": 3}'), { python: 'unknown', pip: null, setuptools: null, wheel: null });
});

test('the package digest ignores line order and blank lines; no packages, no digest', () => {
  const a = dpkgDigest('libc6 2.36\nzlib1g 1.2.13\n');
  assert.match(a ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.equal(dpkgDigest('\nzlib1g 1.2.13\nlibc6 2.36'), a);
  assert.notEqual(dpkgDigest('libc6 2.37\nzlib1g 1.2.13'), a, 'a changed version changes it');
  assert.equal(dpkgDigest(''), null);
});

test('the reproduce command reads back as the same words in a shell', () => {
  assert.equal(shellQuote('--index-url=http://x/simple'), '--index-url=http://x/simple');
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  const cmd = reproduceCommand('/usr/bin/python3', ['-m', 'pip', 'wheel', 'a b==1.0', "q'uote"], { LC_ALL: 'C.UTF-8' });
  const words = execFileSync('sh', ['-c', `for w in ${cmd.replace(/^env /, '')}; do printf '%s\\n' "$w"; done`]).toString();
  assert.deepEqual(words.trim().split('\n'), ['LC_ALL=C.UTF-8', '/usr/bin/python3', '-m', 'pip', 'wheel', 'a b==1.0', "q'uote"]);
});

test('odd facts are cut or dropped so that the header always validates', () => {
  const env = buildEnvironment('Weird\nOS', { python: 'three point eleven', pip: 'x'.repeat(60), setuptools: '66.1.1', wheel: null }, null, 'cmd\nrm -rf /');
  assert.deepEqual(env, { os: 'Weird OS', python: 'unknown', pip: null, setuptools: '66.1.1', wheel: null, dpkgDigest: null, reproduce: 'cmd rm -rf /' });
});

test("this machine's environment is probed and survives the log frame", async () => {
  const env = await probeEnvironment('/usr/bin/python3', 'python3 -m pip wheel x==1');
  assert.match(env.python, /^3\.\d+/);
  assert.match(env.dpkgDigest ?? '', /^sha256:/, 'a Debian machine has packages');
  assert.deepEqual(parseEnvironment(frameLog(env, 'pip says hi\n', { kind: 'exit', code: 0 })), env);
});
