import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamFiles, type UpstreamFilesStore } from '../../../coordinator/upstream/upstream-files.ts';
import { UpstreamError } from '../../../coordinator/upstream/pypi.ts';
import type { UpstreamFileRecord, UpstreamRelease } from '../../../shared/db/index.ts';

const wheel = (filename: string): UpstreamFileRecord => ({ filename, filehash: 'aa'.repeat(32), requiresPython: null, uploadedAt: new Date(0) });

/** A database of releases in memory, and an upstream that answers from a map (or fails). */
function setup(
  answers: Map<string, UpstreamFileRecord[] | Error>,
  buildable = (_pkg: string) => true,
  onAnswer?: (pkg: string, version: string, files: readonly UpstreamFileRecord[]) => Promise<unknown>,
) {
  const stored = new Map<string, UpstreamRelease>();
  const asked: Array<[string, string, number | undefined]> = [];
  const db: UpstreamFilesStore = {
    async recordUpstreamFiles(pkg, version, files, checkedAt) {
      stored.set(`${pkg} ${version}`, { checkedAt: checkedAt ?? new Date(), files: [...files] });
      return true;
    },
    async getUpstreamFiles(pkg, version) {
      return stored.get(`${pkg} ${version}`) ?? null;
    },
    async isBuildable(pkg) {
      return buildable(pkg);
    },
  };
  let closed = false;
  const files = new UpstreamFiles({
    db,
    pypi: {
      async releaseFiles(pkg, version, options) {
        asked.push([pkg, version, options?.retries]);
        const answer = answers.get(`${pkg} ${version}`) ?? [];
        if (answer instanceof Error) throw answer;
        return answer;
      },
      close() {
        closed = true;
      },
    },
    now: () => new Date('2026-05-01T00:00:00Z'),
    maxWanted: 3,
    ...(onAnswer ? { onAnswer } : {}),
  });
  return { files, stored, asked, get closed() { return closed; } };
}

describe('upstream files', () => {
  test('asked afresh before publishing, with the retries given, and recorded', async () => {
    const s = setup(new Map([['p 1.0', [wheel('p-1.0-py3-none-any.whl')]]]));
    assert.deepEqual(await s.files.filesOf('p', '1.0'), [wheel('p-1.0-py3-none-any.whl')]);
    assert.deepEqual(s.asked, [['p', '1.0', 2]]);
    assert.deepEqual(s.stored.get('p 1.0'), { checkedAt: new Date('2026-05-01T00:00:00Z'), files: [wheel('p-1.0-py3-none-any.whl')] });
  });

  test('upstream failing: what it said last stands; never said: null', async () => {
    const s = setup(new Map([['p 1.0', new UpstreamError('down', true)]]));
    assert.equal(await s.files.filesOf('p', '1.0'), null);
    s.stored.set('p 1.0', { checkedAt: new Date(0), files: [wheel('p-1.0-py3-none-any.whl')] });
    assert.deepEqual(await s.files.filesOf('p', '1.0'), [wheel('p-1.0-py3-none-any.whl')]);
  });

  test('reported uploads are asked about in the background, only for releases the farm builds', async () => {
    const answers = new Map<string, UpstreamFileRecord[] | Error>([['p 1.0', [wheel('p-1.0-py3-none-any.whl')]], ['q 1.0', new UpstreamError('down', true)]]);
    const s = setup(answers, (pkg) => pkg !== 'skipped');
    s.files.want('p', '1.0'); // asked at once
    s.files.want('q', '1.0');
    s.files.want('q', '1.0'); // already waiting: once
    s.files.want('skipped', '1.0');
    s.files.want('r', '1.0');
    s.files.want('dropped', '1.0'); // three waiting: past the bound
    await s.files.settled();
    assert.deepEqual(s.asked.map(([pkg, , retries]) => [pkg, retries]).sort(), [['p', 0], ['q', 0], ['r', 0]], 'no retries in the background');
    assert.deepEqual(s.stored.get('p 1.0')?.files, [wheel('p-1.0-py3-none-any.whl')]);
    assert.equal(s.stored.get('q 1.0'), undefined, 'a failure records nothing');
    assert.deepEqual(s.stored.get('r 1.0')?.files, [], 'no wheels is an answer too');
    s.files.want('p', '1.0');
    await s.files.settled();
    assert.equal(s.asked.filter(([pkg]) => pkg === 'p').length, 2, 'a later report asks again (a later upload)');
  });

  test('every recorded answer is handed on; a failure there is logged, the answer kept', async () => {
    const told: string[] = [];
    const s = setup(new Map([['p 1.0', [wheel('p-1.0-py3-none-any.whl')]]]), undefined, async (pkg, version, files) => {
      told.push(`${pkg} ${version} ${files.length}`);
      if (version === '2.0') throw new Error('disk full');
    });
    assert.equal((await s.files.filesOf('p', '1.0'))?.length, 1);
    s.files.want('p', '2.0');
    await s.files.settled();
    assert.deepEqual(await s.files.filesOf('p', '2.0'), [], 'the answer stands');
    assert.deepEqual(told, ['p 1.0 1', 'p 2.0 0', 'p 2.0 0']);
  });

  test('closing stops asking and closes the client', async () => {
    const s = setup(new Map());
    await s.files.close();
    s.files.want('p', '1.0');
    await s.files.settled();
    assert.deepEqual(s.asked, []);
    assert.ok(s.closed);
  });
});
