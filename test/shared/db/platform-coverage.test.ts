// Which builds speak for a platform: the rule the build queue and the project pages share.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { filesForPlatform } from '../../../shared/db/platform-coverage.ts';
import { ANY_PLATFORM } from '../../../shared/target.ts';

const files = (...platforms: string[]) => platforms.map((platform, i) => ({ abi: `a${i}`, platform }));

describe('builds per platform', () => {
  test('on a farm without platforms every build speaks, with all its files', () => {
    const build = { builderPlatform: 'linux_x86_64', files: files('linux_x86_64') };
    assert.deepEqual(filesForPlatform(build, ANY_PLATFORM), build.files);
  });
  test("a wheel speaks for the platform its tag names, or every platform for 'any'", () => {
    const build = { builderPlatform: ANY_PLATFORM, files: files('linux_armv7l', 'any', 'linux_armv6l') };
    assert.deepEqual(filesForPlatform(build, 'linux_armv7l'), [build.files[0], build.files[1]]);
    assert.deepEqual(filesForPlatform(build, 'linux_aarch64'), [build.files[1]]);
  });
  test("a build speaks for its builder's platform with every wheel, whatever their tags", () => {
    const build = { builderPlatform: 'linux_armv8l', files: files('linux_armv7l') };
    assert.deepEqual(filesForPlatform(build, 'linux_armv8l'), build.files);
    assert.equal(filesForPlatform(build, 'linux_aarch64'), null);
  });
  test('a build without files speaks for its own platform, or every one when that is not known', () => {
    assert.deepEqual(filesForPlatform({ builderPlatform: 'linux_aarch64', files: [] }, 'linux_aarch64'), []);
    assert.equal(filesForPlatform({ builderPlatform: 'linux_aarch64', files: [] }, 'linux_armv7l'), null);
    assert.deepEqual(filesForPlatform({ builderPlatform: ANY_PLATFORM, files: [] }, 'linux_armv7l'), []);
  });
});
