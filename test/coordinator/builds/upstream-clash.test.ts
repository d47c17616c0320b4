import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sortOutClashes, withheldNote } from '../../../coordinator/builds/upstream-clash.ts';

const A = 'aa'.repeat(32);
const B = 'bb'.repeat(32);

describe('clashes with upstream files', () => {
  test('a name upstream serves with other bytes is withheld; same bytes or unknown names are published', () => {
    const files = [
      { filename: 'p-1.0-py3-none-any.whl', filehash: A, extra: 1 },
      { filename: 'p-1.0-cp311-cp311-linux_armv7l.whl', filehash: A, extra: 2 },
      { filename: 'p-1.0-cp311-abi3-manylinux_2_17_aarch64.whl', filehash: B, extra: 3 },
    ];
    const upstream = [
      { filename: 'p-1.0-py3-none-any.whl', filehash: B },
      { filename: 'p-1.0-cp311-abi3-manylinux_2_17_aarch64.whl', filehash: B.toUpperCase() },
      { filename: 'p-1.0.tar.gz', filehash: A },
    ];
    const verdict = sortOutClashes(files, upstream);
    assert.deepEqual(verdict.publish.map((f) => f.extra), [2, 3], 'same bytes (any case of hex) publish; the caller\'s fields kept');
    assert.deepEqual(verdict.withheld, [{ filename: 'p-1.0-py3-none-any.whl', filehash: A, upstreamFilehash: B }]);
  });

  test('nothing upstream, or nothing built: nothing withheld', () => {
    assert.deepEqual(sortOutClashes([{ filename: 'p-1.0-py3-none-any.whl', filehash: A }], []).withheld, []);
    assert.deepEqual(sortOutClashes([], [{ filename: 'p-1.0-py3-none-any.whl', filehash: A }]), { publish: [], withheld: [] });
  });

  test('hashes compare without regard to case, and are recorded lower-case', () => {
    const verdict = sortOutClashes([{ filename: 'x.whl', filehash: A.toUpperCase() }], [{ filename: 'x.whl', filehash: B.toUpperCase() }]);
    assert.deepEqual(verdict.withheld, [{ filename: 'x.whl', filehash: A, upstreamFilehash: B }]);
  });

  test('the log note names every withheld file with both hashes', () => {
    const note = withheldNote([{ filename: 'p-1.0-py3-none-any.whl', filehash: A, upstreamFilehash: B }]);
    assert.match(note, /p-1\.0-py3-none-any\.whl \(upstream sha256 b{64}, ours a{64}\)/);
    assert.ok(note.endsWith('\n'));
  });
});
