import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { wheelInstallsOn, type BuildTarget } from '../../../shared/wheel/target.ts';

const bookwormArm64: BuildTarget = { abi: 'cp311', platform: 'linux_aarch64' };
const bookwormArmhf: BuildTarget = { abi: 'cp311', platform: 'linux_armv7l' };
const bullseye: BuildTarget = { abi: 'cp39', platform: 'linux_armv7l' };
const buster: BuildTarget = { abi: 'cp37m', platform: 'linux_armv7l' };
const trixie: BuildTarget = { abi: 'cp313', platform: 'linux_aarch64', glibc: [2, 41] };

describe('wheelInstallsOn', () => {
  test('a pure py3 wheel installs anywhere Python 3 runs', () => {
    for (const target of [bookwormArm64, bookwormArmhf, bullseye, buster, trixie]) {
      assert.ok(wheelInstallsOn('six-1.16.0-py2.py3-none-any.whl', target));
      assert.ok(wheelInstallsOn('e2e_pure-1.0-py3-none-any.whl', target));
    }
    assert.ok(!wheelInstallsOn('old-1.0-py2-none-any.whl', bookwormArm64), 'Python 2 only');
  });

  test('py3x and the interpreter\'s own tag with no ABI', () => {
    assert.ok(wheelInstallsOn('pkg-1.0-py39-none-any.whl', bookwormArm64), 'py39 code runs on 3.11');
    assert.ok(!wheelInstallsOn('pkg-1.0-py312-none-any.whl', bookwormArm64), 'py312 code is newer than 3.11');
    assert.ok(wheelInstallsOn('pkg-1.0-cp311-none-any.whl', bookwormArm64));
    assert.ok(!wheelInstallsOn('pkg-1.0-cp310-none-any.whl', bookwormArm64), 'another CPython\'s own tag');
    assert.ok(wheelInstallsOn('pkg-1.0-py3-none-linux_aarch64.whl', bookwormArm64));
    assert.ok(!wheelInstallsOn('pkg-1.0-py3-none-linux_aarch64.whl', bookwormArmhf), 'another platform');
  });

  test('abi3 wheels install on their CPython and later', () => {
    assert.ok(wheelInstallsOn('crypto-42.0-cp311-abi3-linux_aarch64.whl', bookwormArm64));
    assert.ok(wheelInstallsOn('crypto-42.0-cp37-abi3-linux_aarch64.whl', bookwormArm64));
    assert.ok(wheelInstallsOn('crypto-42.0-cp311-abi3-linux_aarch64.whl', trixie));
    assert.ok(!wheelInstallsOn('crypto-42.0-cp311-abi3-linux_armv7l.whl', bookwormArm64), 'another architecture');
    assert.ok(!wheelInstallsOn('crypto-42.0-cp311-abi3-linux_armv7l.whl', bullseye), 'older CPython');
    assert.ok(!wheelInstallsOn('crypto-42.0-py3-abi3-linux_armv7l.whl', bookwormArmhf), 'abi3 needs a cp tag');
  });

  test('version-specific wheels install only on their own ABI', () => {
    assert.ok(wheelInstallsOn('numpy-1.26.4-cp311-cp311-linux_aarch64.whl', bookwormArm64));
    assert.ok(!wheelInstallsOn('numpy-1.26.4-cp311-cp311-linux_aarch64.whl', trixie));
    assert.ok(wheelInstallsOn('numpy-1.21-cp37-cp37m-linux_armv7l.whl', buster));
    assert.ok(!wheelInstallsOn('numpy-1.21-cp37-cp37m-linux_armv7l.whl', bullseye));
    assert.ok(!wheelInstallsOn('numpy-1.21-cp39-cp37m-linux_armv7l.whl', buster), 'mismatched python and ABI tags');
  });

  test('armv7l and armv6l wheels are not interchangeable', () => {
    const armv6: BuildTarget = { abi: 'cp311', platform: 'linux_armv6l' };
    assert.ok(!wheelInstallsOn('pkg-1.0-cp311-cp311-linux_armv7l.whl', armv6));
    assert.ok(wheelInstallsOn('pkg-1.0-cp311-cp311-linux_armv6l.whl', armv6));
  });

  test('manylinux wheels count only up to a known glibc', () => {
    const numpy = 'numpy-2.1-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl';
    assert.ok(wheelInstallsOn(numpy, trixie));
    assert.ok(!wheelInstallsOn(numpy, { abi: 'cp313', platform: 'linux_aarch64' }), 'glibc unknown');
    assert.ok(!wheelInstallsOn(numpy, { ...trixie, glibc: [2, 16] }), 'glibc too old');
    assert.ok(wheelInstallsOn('x-1-cp313-cp313-manylinux2014_aarch64.whl', trixie));
    assert.ok(wheelInstallsOn('x-1-cp313-cp313-manylinux1_aarch64.whl', trixie));
    assert.ok(!wheelInstallsOn('x-1-cp313-cp313-manylinux2099_aarch64.whl', trixie), 'unknown legacy name');
    assert.ok(!wheelInstallsOn('x-1-cp313-cp313-manylinux_2_28_x86_64.whl', trixie), 'another architecture');
    assert.ok(!wheelInstallsOn('x-1-cp313-cp313-manylinux_3_0_aarch64.whl', trixie), 'a newer glibc major');
    assert.ok(!wheelInstallsOn('x-1-cp313-cp313-musllinux_1_2_aarch64.whl', trixie), 'musl, not glibc');
    assert.ok(!wheelInstallsOn('x-1-cp313-cp313-macosx_11_0_arm64.whl', trixie));
  });

  test('targets that are not CPython take plain py3 wheels only', () => {
    const pypy: BuildTarget = { abi: 'pypy310_pp73', platform: 'linux_aarch64' };
    assert.ok(wheelInstallsOn('six-1.16.0-py2.py3-none-any.whl', pypy));
    assert.ok(!wheelInstallsOn('pkg-1.0-py310-none-any.whl', pypy));
    assert.ok(!wheelInstallsOn('pkg-1.0-cp311-abi3-linux_aarch64.whl', pypy));
  });

  test('names that are not wheels install nowhere', () => {
    for (const name of ['', 'pkg-1.0.tar.gz', 'pkg-1.0-py3-none-any.zip', '../pkg-1.0-py3-none-any.whl', 'pkg-py3-none-any.whl']) {
      assert.equal(wheelInstallsOn(name, bookwormArm64), false, name);
    }
  });
});
