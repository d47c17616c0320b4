// Build targets: names, validation, the farm's targets, and which one a build machine works for.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../shared/cli.ts';
import { ANY_PLATFORM, buildTargets, checkPlatformTag, parseTargetKey, slaveTarget, targetKey } from '../../shared/target.ts';

describe('build targets', () => {
  test('a target is named as wheel tags are joined, an any-platform one by its ABI alone', () => {
    assert.equal(targetKey({ abi: 'cp311', platform: 'linux_aarch64' }), 'cp311-linux_aarch64');
    assert.equal(targetKey({ abi: 'cp311', platform: ANY_PLATFORM }), 'cp311');
    assert.deepEqual(parseTargetKey('cp311-linux_aarch64'), { abi: 'cp311', platform: 'linux_aarch64' });
    assert.deepEqual(parseTargetKey('cp311'), { abi: 'cp311', platform: ANY_PLATFORM });
  });
  test('bad target names and platform tags are refused in words', () => {
    for (const bad of ['', 'cp311-', 'none', 'cp311-any', 'cp311-linux aarch64', 'CP311', 'cp311-linux_aarch64-x']) {
      assert.throws(() => parseTargetKey(bad), UserError, bad);
    }
    for (const bad of ['', 'any', 'Linux_x86_64', 'linux-aarch64', 'x'.repeat(101)]) {
      assert.throws(() => checkPlatformTag(bad), /is not a build platform tag/, bad);
    }
    checkPlatformTag('macosx_11_0_arm64');
  });
  test('every ABI on every platform; one any-platform target per ABI without platforms', () => {
    assert.deepEqual(buildTargets(['cp39', 'cp311'], ['linux_aarch64', 'linux_armv7l']).map(targetKey), [
      'cp39-linux_aarch64', 'cp39-linux_armv7l', 'cp311-linux_aarch64', 'cp311-linux_armv7l',
    ]);
    assert.deepEqual(buildTargets(['cp39', 'cp311'], []).map(targetKey), ['cp39', 'cp311']);
    assert.deepEqual(buildTargets([], ['linux_armv7l']), []);
  });
  test('a build machine works for the target of its ABI and platform', () => {
    const targets = buildTargets(['cp311', 'cp313'], ['linux_aarch64', 'linux_armv7l']);
    assert.deepEqual(slaveTarget(targets, 'cp311', 'linux_aarch64'), { abi: 'cp311', platform: 'linux_aarch64' });
    assert.deepEqual(slaveTarget(targets, 'cp313', 'linux_armv7l'), { abi: 'cp313', platform: 'linux_armv7l' });
    assert.equal(slaveTarget(targets, 'cp311', 'linux_x86_64'), null);
    assert.equal(slaveTarget(targets, 'cp312', 'linux_aarch64'), null);
  });
  test('on a farm without platforms any machine of the ABI will do, as in piwheels', () => {
    const targets = buildTargets(['cp311'], []);
    assert.deepEqual(slaveTarget(targets, 'cp311', 'linux_armv7l'), { abi: 'cp311', platform: ANY_PLATFORM });
    assert.deepEqual(slaveTarget(targets, 'cp311', 'linux_x86_64'), { abi: 'cp311', platform: ANY_PLATFORM });
    assert.equal(slaveTarget(targets, 'cp39', 'linux_armv7l'), null);
  });
});
