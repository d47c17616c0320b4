import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFooter, frameLog, parseEnding, parseEnvironment, type BuildEnvironment } from '../../shared/build-log.ts';

const env: BuildEnvironment = {
  os: 'Debian GNU/Linux 12 (bookworm)',
  python: '3.11.2',
  pip: '23.0.1',
  setuptools: '66.1.1',
  wheel: null,
  dpkgDigest: `sha256:${'a'.repeat(64)}`,
  reproduce: "python3 -m pip wheel 'foo==1.0' --no-deps",
};

test('a framed log gives back its environment and ending, and keeps pip output as it was', () => {
  const pip = 'Collecting foo==1.0\n  fatal error: zstd.h: No such file or directory\nerror\n';
  const log = frameLog(env, pip, { kind: 'exit', code: 1 });
  assert.ok(log.includes(pip), 'pip output untouched');
  assert.deepEqual(parseEnvironment(log), env);
  assert.deepEqual(parseEnding(log), { kind: 'exit', code: 1 });
});

test('every ending survives the round trip', () => {
  for (const ending of [
    { kind: 'exit', code: 0 },
    { kind: 'signal', signal: 'SIGKILL' },
    { kind: 'timeout', seconds: 3600 },
    { kind: 'stopped', reason: 'master said DIE' },
    { kind: 'error', message: 'spawn python3 ENOENT' },
  ] as const) {
    assert.deepEqual(parseEnding(frameLog(env, 'x', ending)), ending);
  }
});

test('a newline in a stop reason cannot forge a second line', () => {
  const footer = formatFooter({ kind: 'stopped', reason: 'a\nb' });
  assert.deepEqual(parseEnding(footer), { kind: 'stopped', reason: 'a b' });
});

test('logs of other slaves, and damaged frames, read as nothing', () => {
  assert.equal(parseEnvironment('Collecting foo\nerror'), null);
  assert.equal(parseEnding('Collecting foo\nerror'), null);
  assert.equal(parseEnding(''), null);
  assert.equal(parseEnvironment('== piwheels build environment ==\nos: x\n'), null, 'no body marker');
  const badDigest = frameLog(env, 'x', { kind: 'exit', code: 1 }).replace(/sha256:a+/, 'sha256:nothex');
  assert.equal(parseEnvironment(badDigest), null, 'a digest that is not one is refused');
  assert.equal(parseEnding('== piwheels build ended: exit status lots =='), null);
  assert.equal(parseEnding('== piwheels build ended: killed by sigkill =='), null);
  // pip output that imitates the footer earlier in the log does not count: only the last line does
  assert.equal(parseEnding('== piwheels build ended: exit status 0 ==\nmore output'), null);
});
