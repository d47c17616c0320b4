import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { withdrawClashing, type WithdrawalDeps } from '../../../coordinator/builds/upstream-withdrawal.ts';
import type { PageRequest } from '../../../coordinator/pages/page-request.ts';

const OURS = 'aa'.repeat(32);
const THEIRS = 'bb'.repeat(32);
const upstream = (filename: string, filehash: string) => ({ filename, filehash, requiresPython: null, uploadedAt: new Date(0) });

function setup(published: Array<{ buildId: number; filename: string; filehash: string }>) {
  const pages: PageRequest[] = [];
  const withdrawals: unknown[] = [];
  let nudges = 0;
  const deps: WithdrawalDeps = {
    db: {
      async getPublishedFiles() {
        return published;
      },
      async withdrawFiles(_pkg, _version, files) {
        withdrawals.push(files);
        return files.map((f) => f.filename);
      },
    },
    pages: {
      async request(request) {
        pages.push(request);
      },
    },
    refill: { nudge: () => void (nudges += 1) },
  };
  return { deps, pages, withdrawals, get nudges() { return nudges; } };
}

describe('withdrawing files upstream now contradicts', () => {
  test('a published file upstream serves with other bytes is withdrawn, its pages rewritten, the queue nudged', async () => {
    const s = setup([
      { buildId: 4, filename: 'p-1.0-py3-none-any.whl', filehash: OURS },
      { buildId: 5, filename: 'p-1.0-cp311-cp311-linux_armv7l.whl', filehash: OURS },
    ]);
    const withdrawn = await withdrawClashing(s.deps, 'p', '1.0', [upstream('p-1.0-py3-none-any.whl', THEIRS), upstream('p-1.0.tar.gz', THEIRS)]);
    assert.deepEqual(withdrawn, ['p-1.0-py3-none-any.whl']);
    assert.deepEqual(s.withdrawals, [[{ filename: 'p-1.0-py3-none-any.whl', filehash: OURS, upstreamFilehash: THEIRS, buildId: 4 }]]);
    assert.deepEqual(s.pages, [{ kind: 'DELFILES', package: 'p', filenames: ['p-1.0-py3-none-any.whl'] }]);
    assert.equal(s.nudges, 1);
  });

  test('the same bytes, other names, or nothing upstream: nothing withdrawn, nothing asked', async () => {
    const s = setup([{ buildId: 4, filename: 'p-1.0-py3-none-any.whl', filehash: OURS }]);
    assert.deepEqual(await withdrawClashing(s.deps, 'p', '1.0', [upstream('p-1.0-py3-none-any.whl', OURS.toUpperCase())]), []);
    assert.deepEqual(await withdrawClashing(s.deps, 'p', '1.0', [upstream('p-1.0-py2-none-any.whl', THEIRS)]), []);
    assert.deepEqual(await withdrawClashing(s.deps, 'p', '1.0', []), []);
    assert.deepEqual([s.withdrawals, s.pages, s.nudges], [[], [], 0]);
  });
});
