// A release's status on each ABI, as its project page shows it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { releaseTargetStatuses, withUpstream, type BuildOutcome } from '../../../shared/db/project.ts';
import { buildTargets } from '../../../shared/target.ts';

describe('release status per ABI', () => {
  const abis = ['cp39', 'cp311', 'cp313'];
  const build = (buildId: number, builderAbi: string, status: boolean, fileAbis: string[]): BuildOutcome => ({
    buildId,
    builderAbi,
    builderPlatform: '',
    status,
    files: fileAbis.map((abi) => ({ abi, platform: 'linux_armv7l' })),
  });
  const releaseAbiStatuses = (active: string[], builds: BuildOutcome[], skipped: boolean) =>
    releaseTargetStatuses(buildTargets(active, []), builds, skipped);
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

describe('release status per target, with platforms', () => {
  const targets = buildTargets(['cp311', 'cp313'], ['linux_aarch64', 'linux_armv7l']);
  const on = (buildId: number, builderAbi: string, builderPlatform: string, status: boolean, files: Array<[string, string]>): BuildOutcome => ({
    buildId, builderAbi, builderPlatform, status, files: files.map(([abi, platform]) => ({ abi, platform })),
  });
  test('every target is named, ABI and platform', () => {
    assert.deepEqual(Object.keys(releaseTargetStatuses(targets, [], false)), [
      'cp311-linux_aarch64', 'cp311-linux_armv7l', 'cp313-linux_aarch64', 'cp313-linux_armv7l',
    ]);
  });
  test('a platform wheel decides its own platform only', () => {
    const s = releaseTargetStatuses(targets, [on(1, 'cp311', 'linux_aarch64', true, [['cp311', 'linux_aarch64']])], false);
    assert.deepEqual(s['cp311-linux_aarch64'], { status: 'success', buildId: 1 });
    assert.deepEqual(s['cp311-linux_armv7l'], { status: 'pending', buildId: null });
    assert.deepEqual(s['cp313-linux_aarch64'], { status: 'pending', buildId: null });
  });
  test('a py3-none-any wheel is a success on every target', () => {
    const s = releaseTargetStatuses(targets, [on(2, 'cp311', 'linux_armv7l', true, [['none', 'any']])], false);
    for (const status of Object.values(s)) assert.deepEqual(status, { status: 'success', buildId: 2 });
  });
  test('a failure shows on its builder platform only', () => {
    const s = releaseTargetStatuses(targets, [on(3, 'cp311', 'linux_armv7l', false, [])], false);
    assert.deepEqual(s['cp311-linux_armv7l'], { status: 'fail', buildId: 3 });
    assert.deepEqual(s['cp311-linux_aarch64'], { status: 'pending', buildId: null });
  });
});

describe("upstream's part of the status", () => {
  const HASH = '0'.repeat(64);
  const withheld = (buildId: number, abiBuilder: string) => ({ filename: 'p-1.0-py3-none-any.whl', hash: HASH, upstreamHash: HASH, buildId, abiBuilder });
  const served = (abi: string) => ({ abi, platform: 'linux_armv7l', filename: 'p-1.0-py3-none-any.whl' });

  test('a build that only withheld files reads as served upstream, keeping its log', () => {
    const statuses = { cp39: { status: 'fail' as const, buildId: 4 }, cp311: { status: 'pending' as const, buildId: null } };
    assert.deepEqual(withUpstream(statuses, [], [withheld(4, 'cp39')]), {
      cp39: { status: 'upstream', buildId: 4 },
      cp311: { status: 'pending', buildId: null },
    });
  });

  test('a served target reads so when nothing of ours is there; successes and skips stay', () => {
    const statuses = {
      cp39: { status: 'success' as const, buildId: 1 },
      cp311: { status: 'pending' as const, buildId: null },
      cp313: { status: 'fail' as const, buildId: 2 },
      cp37m: { status: 'skip' as const, buildId: null },
    };
    assert.deepEqual(withUpstream(statuses, [served('cp39'), served('cp311'), served('cp313'), served('cp37m')], []), {
      cp39: { status: 'success', buildId: 1 },
      cp311: { status: 'upstream', buildId: null },
      cp313: { status: 'upstream', buildId: 2 },
      cp37m: { status: 'skip', buildId: null },
    });
  });

  test('a failure of another build than the one that withheld stays a failure', () => {
    const statuses = { cp39: { status: 'fail' as const, buildId: 9 } };
    assert.deepEqual(withUpstream(statuses, [], [withheld(4, 'cp39')]), statuses);
    assert.deepEqual(withUpstream({}, [served('cp39')], [withheld(4, 'cp39')]), {}, 'no ABI, nothing to mark');
  });
});
