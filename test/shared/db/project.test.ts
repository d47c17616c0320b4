// A release's status on each ABI, as its project page shows it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { releaseAbiStatuses, type BuildOutcome } from '../../../shared/db/project.ts';

describe('release status per ABI', () => {
  const abis = ['cp39', 'cp311', 'cp313'];
  const build = (buildId: number, builderAbi: string, status: boolean, fileAbis: string[]): BuildOutcome => ({
    buildId,
    builderAbi,
    status,
    fileAbis,
  });
  test('no builds: pending everywhere', () => {
    const s = releaseAbiStatuses(abis, [], false);
    assert.deepEqual(Object.keys(s), abis);
    for (const abi of abis) assert.deepEqual(s[abi], { status: 'pending', buildId: null });
  });
  test('a none wheel built on the lowest ABI is a success everywhere', () => {
    const s = releaseAbiStatuses(abis, [build(7, 'cp39', true, ['none'])], false);
    for (const abi of abis) assert.deepEqual(s[abi], { status: 'success', buildId: 7 });
  });
  test('failure on the lowest ABI, then success with a specific wheel on the next', () => {
    const s = releaseAbiStatuses(abis, [build(1, 'cp39', false, []), build(2, 'cp311', true, ['cp311'])], false);
    assert.deepEqual(s.cp39, { status: 'fail', buildId: 1 });
    assert.deepEqual(s.cp311, { status: 'success', buildId: 2 });
    assert.deepEqual(s.cp313, { status: 'pending', buildId: null });
  });
  test('builds of higher ABIs do not decide a lower one (interpreter order)', () => {
    const s = releaseAbiStatuses(abis, [build(3, 'cp311', true, ['none'])], false);
    assert.deepEqual(s.cp39, { status: 'pending', buildId: null });
    assert.deepEqual(s.cp311, { status: 'success', buildId: 3 });
    assert.deepEqual(s.cp313, { status: 'success', buildId: 3 });
  });
  test('a compatible wheel from a lower ABI outweighs a failure on its own', () => {
    const s = releaseAbiStatuses(abis, [build(1, 'cp39', true, ['abi3']), build(2, 'cp311', false, [])], false);
    assert.deepEqual(s.cp311, { status: 'success', buildId: 1 });
    assert.deepEqual(s.cp313, { status: 'success', buildId: 1 });
  });
  test('an own-ABI wheel outweighs a compatible one from a lower ABI', () => {
    const s = releaseAbiStatuses(abis, [build(1, 'cp39', true, ['abi3']), build(2, 'cp311', true, ['cp311'])], false);
    assert.deepEqual(s.cp311, { status: 'success', buildId: 2 });
    assert.deepEqual(s.cp39, { status: 'success', buildId: 1 });
  });
  test('a success whose files were all replaced reads as a failure for its ABI', () => {
    const s = releaseAbiStatuses(abis, [build(4, 'cp39', true, [])], false);
    assert.deepEqual(s.cp39, { status: 'fail', buildId: 4 });
  });
  test('ties go to the latest build', () => {
    const s = releaseAbiStatuses(abis, [build(1, 'cp39', true, ['cp39']), build(5, 'cp39', true, ['cp39'])], false);
    assert.deepEqual(s.cp39, { status: 'success', buildId: 5 });
  });
  test('skipped releases read skip, keeping the deciding build', () => {
    const s = releaseAbiStatuses(abis, [build(1, 'cp39', true, ['none'])], true);
    assert.deepEqual(s.cp39, { status: 'skip', buildId: 1 });
    assert.deepEqual(releaseAbiStatuses(['cp39'], [], true).cp39, { status: 'skip', buildId: null });
  });
});
