// The build queue's rule for one version.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nextBuildAbi } from '../../../shared/db/queue.ts';

describe('queue rule for one version', () => {
  const abis = ['cp39', 'cp311', 'cp313'];
  test('an unbuilt version goes to the lowest active ABI', () => {
    assert.equal(nextBuildAbi(abis, []), 'cp39');
  });
  test('a none wheel covers every ABI', () => {
    assert.equal(nextBuildAbi(abis, [{ builderAbi: 'cp39', fileAbis: ['none'] }]), null);
  });
  test('an abi3 wheel covers every ABI', () => {
    assert.equal(nextBuildAbi(abis, [{ builderAbi: 'cp39', fileAbis: ['abi3'] }]), null);
  });
  test('a failure sends it on to the next ABI, and the next', () => {
    assert.equal(nextBuildAbi(abis, [{ builderAbi: 'cp39', fileAbis: [] }]), 'cp311');
    assert.equal(
      nextBuildAbi(abis, [
        { builderAbi: 'cp39', fileAbis: [] },
        { builderAbi: 'cp311', fileAbis: [] },
      ]),
      'cp313',
    );
  });
  test('an ABI-specific wheel covers its own ABI only', () => {
    assert.equal(nextBuildAbi(abis, [{ builderAbi: 'cp39', fileAbis: ['cp39', 'cp39'] }]), 'cp311');
  });
  test('a wheel covers the ABI in its name, whoever built it', () => {
    assert.equal(nextBuildAbi(abis, [{ builderAbi: 'cp39', fileAbis: ['cp311'] }]), 'cp39');
  });
  test('every ABI covered, or none active: nothing more', () => {
    const all = abis.map((abi) => ({ builderAbi: abi, fileAbis: [abi] }));
    assert.equal(nextBuildAbi(abis, all), null);
    assert.equal(nextBuildAbi([], []), null);
  });
});
