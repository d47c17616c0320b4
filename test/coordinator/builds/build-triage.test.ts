import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildTriage, describeFailure, triageBuild } from '../../../coordinator/builds/build-triage.ts';
import { frameLog } from '../../../shared/build-log.ts';
import type { BuildResult } from '../../../shared/build.ts';
import type { FailureInfo, LostBuild } from '../../../shared/db/index.ts';
import { silentLogger } from '../../../shared/log.ts';

const ENV = { os: 'Debian GNU/Linux 12 (bookworm)', python: '3.11.2', pip: '23.0.1', setuptools: null, wheel: null, dpkgDigest: null, reproduce: 'python3 -m pip wheel x==1' };
const build = (over: Partial<BuildResult>): BuildResult => ({ slaveId: 1, package: 'x', version: '1', abiTag: 'cp311', platformTag: 'linux_armv7l', status: false, duration: 5, output: '', files: [], ...over });

test('a failed build from our slave: kind from the footer, missing header, environment from the header', () => {
  const log = frameLog(ENV, 'x.c:1:10: fatal error: zstd.h: No such file or directory\n', { kind: 'exit', code: 1 });
  const triaged = triageBuild(build({ output: log }), { buildTimeoutS: 3600, diskLow: false });
  assert.deepEqual(triaged.failure, { kind: 'package', missing: { kind: 'header', name: 'zstd.h' } });
  assert.deepEqual(triaged.environment, ENV);
  const killed = triageBuild(build({ output: frameLog(ENV, 'fatal error: zstd.h: No such file or directory', { kind: 'signal', signal: 'SIGKILL' }) }), { buildTimeoutS: 3600, diskLow: false });
  assert.deepEqual(killed.failure, { kind: 'killed', missing: null }, 'a transient failure names no dependency');
  const cut = log.slice(0, log.indexOf('== piwheels build ended'));
  assert.deepEqual(triageBuild(build({ output: cut }), { buildTimeoutS: 3600, diskLow: false }).failure, { kind: 'slave-lost', missing: null }, 'a log cut off before its footer');
  const fine = triageBuild(build({ status: true, output: log }), { buildTimeoutS: 3600, diskLow: true });
  assert.equal(fine.failure, null);
});

test('the monitor line says kind, try, next retry and what was missing', () => {
  const f: FailureInfo = { kind: 'package', attempt: 2, retryAt: null, missing: { kind: 'header', name: 'zstd.h' }, debianPackage: 'libzstd-dev' };
  assert.equal(describeFailure(f), 'failed (package, try 2): not retried automatically; missing zstd.h (libzstd-dev)');
  assert.equal(describeFailure({ ...f, kind: 'upstream', retryAt: new Date('2026-01-01T00:05:00.250Z'), missing: null }), 'failed (upstream, try 2): retry at 2026-01-01T00:05:00Z');
});

test('after recording, the missing dependency is named in the background and the pages rewritten', async () => {
  const named: Array<[number, string]> = [];
  const rewritten: string[] = [];
  const lost: LostBuild[] = [];
  const failure: FailureInfo = { kind: 'package', attempt: 1, retryAt: null, missing: { kind: 'header', name: 'zstd.h' }, debianPackage: null };
  const triage = new BuildTriage({
    store: {
      getBuildFailure: async () => failure,
      setDebianPackage: async (id, pkg) => void named.push([id, pkg]),
      recordLostBuild: async (l) => lost.push(l) > 0,
    },
    index: { lookup: async (m) => (m.name === 'zstd.h' ? 'libzstd-dev' : null) },
    rewrite: (pkg) => void rewritten.push(pkg),
    logger: silentLogger(),
  });
  assert.deepEqual(await triage.recorded(9, build({ package: 'needs-zstd' })), failure);
  assert.equal(await triage.recorded(10, build({ status: true })), null);
  triage.lost({ package: 'x', version: '1', abiTag: 'cp311', slaveId: 3, at: new Date(0) });
  await triage.settled();
  assert.deepEqual(named, [[9, 'libzstd-dev']]);
  assert.deepEqual(rewritten, ['needs-zstd']);
  assert.equal(lost.length, 1);
});
