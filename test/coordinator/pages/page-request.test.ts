import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  PageRequestError,
  fromPendingRewrite,
  parsePageRequest,
  parseProjectRewrite,
  toPendingRewrite,
} from '../../../coordinator/pages/page-request.ts';
import { sampleStats } from '../../helpers/site-fixture.ts';

const entry = { package: 'numpy', description: 'arrays', downloadsRecent: 3, downloadsAll: 10 };

/** Asserts that `input` is refused with a PageRequestError whose message matches. */
function refused(input: unknown, message: RegExp): void {
  assert.throws(() => parsePageRequest(input), (error: unknown) => {
    assert.ok(error instanceof PageRequestError, `expected a PageRequestError, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

describe('page requests', () => {
  test('accepts each kind', () => {
    const requests = [
      { kind: 'PROJECT', package: 'numpy' },
      { kind: 'BOTH', package: 'numpy' },
      { kind: 'DELPKG', package: 'numpy' },
      { kind: 'DELVER', package: 'numpy', version: '1.0' },
      { kind: 'DELFILES', package: 'numpy', filenames: ['numpy-1.0-py3-none-any.whl'] },
      { kind: 'LOG', buildId: 0, log: '' },
      { kind: 'HOME', stats: sampleStats },
      { kind: 'SEARCH', entries: [entry] },
      { kind: 'SEARCH', entries: [] },
    ];
    for (const request of requests) assert.deepEqual(parsePageRequest(request), request);
  });

  test('refuses a HOME request whose statistics are not statistics', () => {
    refused({ kind: 'HOME', stats: {} }, /^HOME page request refused: stats\.packagesBuilt: /);
    refused({ kind: 'HOME', stats: null }, /^HOME page request refused: stats: /);
    refused({ kind: 'HOME', stats: { ...sampleStats, downloadsAll: '98815' } }, /stats\.downloadsAll: .*number/);
    refused({ kind: 'HOME', stats: { ...sampleStats, filesCount: -1 } }, /stats\.filesCount: /);
    refused({ kind: 'HOME', stats: { ...sampleStats, newLastHour: 1.5 } }, /stats\.newLastHour: /);
    refused({ kind: 'HOME', stats: { ...sampleStats, buildsPending: { cp311: 'many' } } }, /stats\.buildsPending\.cp311: /);
    refused({ kind: 'HOME', stats: { ...sampleStats, buildsLastHour: [3, 7] } }, /stats\.buildsLastHour: /);
    refused({ kind: 'HOME' }, /^HOME page request refused: stats: /);
  });

  test('refuses a SEARCH request whose entries are not search rows', () => {
    refused({ kind: 'SEARCH', entries: {} }, /^SEARCH page request refused: entries: /);
    refused({ kind: 'SEARCH', entries: [entry, 'numpy'] }, /^SEARCH page request refused: entries\[1\]: /);
    refused({ kind: 'SEARCH', entries: [entry, { ...entry, package: '' }] }, /entries\[1\]\.package: /);
    refused({ kind: 'SEARCH', entries: [{ ...entry, downloadsAll: null }] }, /entries\[0\]\.downloadsAll: /);
    refused({ kind: 'SEARCH', entries: [{ ...entry, description: undefined }] }, /entries\[0\]\.description: /);
    refused({ kind: 'SEARCH', entries: [{ package: 'numpy' }] }, /entries\[0\]\.description: /);
  });

  test('refuses names that are not canonical or would leave the output tree', () => {
    refused({ kind: 'BOTH', package: '../etc' }, /^BOTH page request refused: package: not a canonical package name$/);
    refused({ kind: 'PROJECT', package: 'Not_Canonical' }, /package: not a canonical package name/);
    refused({ kind: 'DELPKG', package: '' }, /^DELPKG page request refused: package: /);
    refused({ kind: 'DELVER', package: 'numpy', version: '' }, /^DELVER page request refused: version: /);
    refused({ kind: 'DELFILES', package: 'numpy', filenames: ['../x.whl'] }, /^DELFILES page request refused: filenames\[0\]: not a plain file name$/);
    refused({ kind: 'DELFILES', package: 'numpy', filenames: [] }, /^DELFILES page request refused: filenames: /);
    refused({ kind: 'LOG', buildId: -4, log: 'x' }, /^LOG page request refused: buildId: /);
  });

  test('refuses what is not a request at all', () => {
    refused({ kind: 'REBOOT', package: 'numpy' }, /^REBOOT page request refused: kind: /);
    refused(null, /^unknown page request refused/);
    refused('BOTH numpy', /^unknown page request refused/);
  });

  test('a project rewrite is only PROJECT or BOTH', () => {
    assert.deepEqual(parseProjectRewrite({ kind: 'BOTH', package: 'numpy' }), { kind: 'BOTH', package: 'numpy' });
    assert.throws(() => parseProjectRewrite({ kind: 'DELPKG', package: 'numpy' }), PageRequestError);
  });
});

describe('stored rewrites', () => {
  test('a rewrite survives the round trip through its row', () => {
    const at = new Date('2024-07-01T10:00:01Z');
    const row = toPendingRewrite({ kind: 'BOTH', package: 'numpy' }, at);
    assert.deepEqual(row, { package: 'numpy', addedAt: at, command: 'BOTH' });
    assert.deepEqual(fromPendingRewrite(row), { request: { kind: 'BOTH', package: 'numpy' }, addedAt: at });
  });

  test('a row that is not a rewrite is refused', () => {
    const at = new Date(0);
    assert.throws(() => fromPendingRewrite({ package: 'numpy', addedAt: at, command: 'DELPKG' }), /stored page rewrite refused: command: /);
    assert.throws(() => fromPendingRewrite({ package: '../x', addedAt: at, command: 'BOTH' }), /stored page rewrite refused: package: /);
    assert.throws(() => fromPendingRewrite({ package: 'numpy', addedAt: '2024-07-01', command: 'BOTH' }), /addedAt: /);
  });
});
