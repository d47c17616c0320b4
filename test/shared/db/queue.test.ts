// The build queue's rule for one version on one platform.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nextBuildAbi, type BuildCoverage } from '../../../shared/db/queue.ts';
import { ANY_PLATFORM } from '../../../shared/target.ts';

/** A build on an unknown platform, with files of these ABIs on any platform: what piwheels knew. */
const old = (builderAbi: string, fileAbis: string[]): BuildCoverage => ({
  builderAbi,
  builderPlatform: ANY_PLATFORM,
  files: fileAbis.map((abi) => ({ abi, platform: 'linux_armv7l' })),
});

const on = (builderAbi: string, builderPlatform: string, files: Array<[abi: string, platform: string]>): BuildCoverage => ({
  builderAbi,
  builderPlatform,
  files: files.map(([abi, platform]) => ({ abi, platform })),
});

describe('queue rule for one version, farm without platforms (as piwheels)', () => {
  const abis = ['cp39', 'cp311', 'cp313'];
  const next = (builds: BuildCoverage[], active = abis): string | null => nextBuildAbi(active, ANY_PLATFORM, builds);
  test('an unbuilt version goes to the lowest active ABI', () => {
    assert.equal(next([]), 'cp39');
  });
  test('a none wheel covers every ABI', () => {
    assert.equal(next([old('cp39', ['none'])]), null);
  });
  test('an abi3 wheel covers every ABI', () => {
    assert.equal(next([old('cp39', ['abi3'])]), null);
  });
  test('a failure sends it on to the next ABI, and the next', () => {
    assert.equal(next([old('cp39', [])]), 'cp311');
    assert.equal(next([old('cp39', []), old('cp311', [])]), 'cp313');
  });
  test('an ABI-specific wheel covers its own ABI only', () => {
    assert.equal(next([old('cp39', ['cp39', 'cp39'])]), 'cp311');
  });
  test('a wheel covers the ABI in its name, whoever built it', () => {
    assert.equal(next([old('cp39', ['cp311'])]), 'cp39');
  });
  test('builds of any platform count, whatever their platform', () => {
    assert.equal(next([on('cp39', 'linux_aarch64', [['cp39', 'linux_aarch64']]), on('cp311', 'linux_x86_64', [])]), 'cp313');
  });
  test('every ABI covered, or none active: nothing more', () => {
    assert.equal(next(abis.map((abi) => old(abi, [abi]))), null);
    assert.equal(next([], []), null);
  });
});

describe('queue rule for one version on one platform', () => {
  const abis = ['cp311', 'cp313'];
  const arm7 = 'linux_armv7l';
  const arm64 = 'linux_aarch64';
  test('a platform wheel covers its own platform only', () => {
    const builds = [on('cp311', arm7, [['cp311', arm7], ['cp311', 'linux_armv6l']])];
    assert.equal(nextBuildAbi(abis, arm7, builds), 'cp313');
    assert.equal(nextBuildAbi(abis, arm64, builds), 'cp311');
  });
  test('a py3-none-any wheel covers every platform and ABI', () => {
    const builds = [on('cp311', arm7, [['none', 'any']])];
    assert.equal(nextBuildAbi(abis, arm7, builds), null);
    assert.equal(nextBuildAbi(abis, arm64, builds), null);
  });
  test('an abi3 wheel for one platform covers every ABI of that platform only', () => {
    const builds = [on('cp311', arm64, [['abi3', arm64]])];
    assert.equal(nextBuildAbi(abis, arm64, builds), null);
    assert.equal(nextBuildAbi(abis, arm7, builds), 'cp311');
  });
  test('a none-ABI wheel for one platform covers that platform only', () => {
    const builds = [on('cp311', arm7, [['none', arm7]])];
    assert.equal(nextBuildAbi(abis, arm7, builds), null);
    assert.equal(nextBuildAbi(abis, arm64, builds), 'cp311');
  });
  test('a failure counts on its builder platform only', () => {
    const builds = [on('cp311', arm64, [])];
    assert.equal(nextBuildAbi(abis, arm64, builds), 'cp313');
    assert.equal(nextBuildAbi(abis, arm7, builds), 'cp311');
  });
  test('a failure of unknown platform (history) counts on every platform', () => {
    const builds = [old('cp311', [])];
    assert.equal(nextBuildAbi(abis, arm64, builds), 'cp313');
    assert.equal(nextBuildAbi(abis, arm7, builds), 'cp313');
  });
  test('a wheel of unknown builder counts where its tag says', () => {
    const builds = [old('cp311', ['cp311'])];
    assert.equal(nextBuildAbi(abis, arm7, builds), 'cp313');
    assert.equal(nextBuildAbi(abis, arm64, builds), 'cp311');
  });
  test('a wheel tagged for another platform still covers its builder platform (no endless rebuilds)', () => {
    const builds = [on('cp311', 'linux_armv8l', [['cp311', arm7]])];
    assert.equal(nextBuildAbi(abis, 'linux_armv8l', builds), 'cp313');
    assert.equal(nextBuildAbi(abis, arm7, builds), 'cp313');
    assert.equal(nextBuildAbi(abis, arm64, builds), 'cp311');
  });
});
