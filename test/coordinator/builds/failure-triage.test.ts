import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyFailure, MASTER_TIMEOUT_NOTE, type FailureFacts } from '../../../coordinator/builds/failure-triage.ts';

const facts = (over: Partial<FailureFacts>): FailureFacts => ({ log: '', ending: null, framed: false, durationS: 10, buildTimeoutS: 3600, diskLow: false, ...over });

test("a compiler error is the package's own", () => {
  assert.equal(classifyFailure(facts({ log: 'foo.c:1:10: fatal error: zstd.h: No such file or directory\nerror: command gcc failed' })), 'package');
  assert.equal(classifyFailure(facts({ log: 'SyntaxError: invalid syntax', ending: { kind: 'exit', code: 1 } })), 'package');
  assert.equal(classifyFailure(facts({ log: '' })), 'package', 'an empty log says nothing else');
});

test('a source not (yet) served or a network error is upstream', () => {
  assert.equal(classifyFailure(facts({ log: 'ERROR: HTTP error 404 while getting http://x/files/foo-1.0.tar.gz' })), 'upstream');
  assert.equal(classifyFailure(facts({ log: 'ERROR: Could not find a version that satisfies the requirement foo==1.0 (from versions: none)\nERROR: No matching distribution found for foo==1.0' })), 'upstream');
  assert.equal(classifyFailure(facts({ log: "WARNING: Retrying ... NewConnectionError('Connection refused')" })), 'upstream');
  assert.equal(classifyFailure(facts({ log: 'Temporary failure in name resolution' })), 'upstream');
});

test('a full disk, a kill and a timeout', () => {
  assert.equal(classifyFailure(facts({ log: 'OSError: [Errno 28] No space left on device' })), 'disk');
  assert.equal(classifyFailure(facts({ log: 'gcc: internal compiler error: Killed (program cc1)' })), 'killed');
  assert.equal(classifyFailure(facts({ log: 'x', ending: { kind: 'signal', signal: 'SIGKILL' } })), 'killed');
  assert.equal(classifyFailure(facts({ log: 'x', ending: { kind: 'exit', code: 137 } })), 'killed');
  assert.equal(classifyFailure(facts({ log: 'x', ending: { kind: 'timeout', seconds: 60 } })), 'timeout');
  assert.equal(classifyFailure(facts({ log: `${MASTER_TIMEOUT_NOTE} of 1:00:00\n` })), 'timeout');
});

test("a piwheels slave's build that ran its whole timeout timed out", () => {
  assert.equal(classifyFailure(facts({ log: 'building...', durationS: 3600, buildTimeoutS: 3600 })), 'timeout');
  assert.equal(classifyFailure(facts({ log: 'building...', durationS: 3000, buildTimeoutS: 3600 })), 'package');
  // our slave's footer says how it ended; the duration is not second-guessed
  assert.equal(classifyFailure(facts({ log: 'x', durationS: 3600, buildTimeoutS: 3600, ending: { kind: 'exit', code: 1 } })), 'package');
  assert.equal(classifyFailure(facts({ log: 'x', durationS: 5, buildTimeoutS: 0 })), 'package', 'no timeout known');
});

test('a slave short of disk is suspect even when the log does not say so', () => {
  assert.equal(classifyFailure(facts({ log: 'error: command gcc failed', diskLow: true })), 'disk');
  assert.equal(classifyFailure(facts({ log: 'x', ending: { kind: 'stopped', reason: 'master said DIE' } })), 'slave-lost');
});

test("our slave's log without its footer was cut off: the package is not to blame", () => {
  assert.equal(classifyFailure(facts({ log: 'x.c: error: expected ;', framed: true })), 'slave-lost');
  assert.equal(classifyFailure(facts({ log: 'x.c: error: expected ;', framed: true, ending: { kind: 'exit', code: 1 } })), 'package');
});
