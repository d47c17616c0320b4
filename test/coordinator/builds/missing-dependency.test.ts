import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentsLineToApt, contentsPattern, findMissingDependency, pickDebianPackage } from '../../../coordinator/builds/missing-dependency.ts';

test('headers, libraries and pkg-config modules are found in compiler and linker words', () => {
  assert.deepEqual(findMissingDependency('src/z.c:3:10: fatal error: zstd.h: No such file or directory\n    3 | #include <zstd.h>'), { kind: 'header', name: 'zstd.h' });
  assert.deepEqual(findMissingDependency("x.c:1:10: fatal error: 'openssl/ssl.h' file not found"), { kind: 'header', name: 'openssl/ssl.h' });
  assert.deepEqual(findMissingDependency('/usr/bin/ld: cannot find -lzstd: No such file or directory'), { kind: 'library', name: 'zstd' });
  assert.deepEqual(findMissingDependency("Package 'libffi', required by 'virtual:world', not found"), { kind: 'pkg-config', name: 'libffi' });
  assert.deepEqual(findMissingDependency('Package cairo was not found in the pkg-config search path.'), { kind: 'pkg-config', name: 'cairo' });
  assert.deepEqual(findMissingDependency("No package 'gtk+-3.0' found"), { kind: 'pkg-config', name: 'gtk+-3.0' });
});

test('the first missing dependency in the log wins; none is null', () => {
  const log = "Package 'x11' not found\n...\nfatal error: zstd.h: No such file or directory";
  assert.deepEqual(findMissingDependency(log), { kind: 'pkg-config', name: 'x11' });
  assert.equal(findMissingDependency('error: command gcc failed with exit status 1'), null);
  assert.equal(findMissingDependency(''), null);
});

test('odd names are refused rather than passed to the index', () => {
  assert.equal(findMissingDependency('fatal error: ../../x.h: No such file or directory'), null);
});

test('index patterns match the real paths and escape the name', () => {
  const header = new RegExp(contentsPattern({ kind: 'header', name: 'zstd.h' }));
  assert.ok(header.test('usr/include/zstd.h'));
  assert.ok(header.test('usr/include/aarch64-linux-gnu/zstd.h'));
  assert.ok(!header.test('usr/include/zstdxh'), 'the dot is literal');
  assert.ok(!header.test('usr/include/libzstd.h'));
  const nested = new RegExp(contentsPattern({ kind: 'header', name: 'openssl/ssl.h' }));
  assert.ok(nested.test('usr/include/openssl/ssl.h'));
  const lib = new RegExp(contentsPattern({ kind: 'library', name: 'stdc++' }));
  assert.ok(lib.test('usr/lib/x86_64-linux-gnu/libstdc++.so'));
  assert.ok(!lib.test('usr/lib/x86_64-linux-gnu/libstdc++.so.6'), 'a runtime library does not satisfy the linker');
  const pc = new RegExp(contentsPattern({ kind: 'pkg-config', name: 'libffi' }));
  assert.ok(pc.test('usr/lib/x86_64-linux-gnu/pkgconfig/libffi.pc'));
  assert.ok(pc.test('usr/share/pkgconfig/libffi.pc'));
  assert.throws(() => contentsPattern({ kind: 'header', name: '$(rm -rf)' }));
});

test('one package is picked from the index answer, development packages first', () => {
  assert.equal(pickDebianPackage('libzstd-dev: /usr/include/zstd.h\n'), 'libzstd-dev');
  assert.equal(pickDebianPackage('zstd-vendored: /usr/include/x/y/zstd.h\nlibzstd-dev: /usr/include/zstd.h\n'), 'libzstd-dev');
  assert.equal(pickDebianPackage('b-dev: /usr/include/z/zstd.h\na-dev: /usr/include/zstd.h'), 'a-dev', 'nearest the top of the tree');
  assert.equal(pickDebianPackage('libfoo1: /usr/lib/libfoo.so\n'), 'libfoo1');
  assert.equal(pickDebianPackage(''), null);
  assert.equal(pickDebianPackage('E: something went wrong\n'), null);
});

test('Contents lines become apt-file answers', () => {
  assert.equal(contentsLineToApt('usr/include/zstd.h                                      libdevel/libzstd-dev'), 'libzstd-dev: /usr/include/zstd.h');
  assert.equal(contentsLineToApt('usr/include/x.h   devel/a-dev,libdevel/b-dev'), 'a-dev, b-dev: /usr/include/x.h');
  assert.equal(pickDebianPackage(contentsLineToApt('usr/include/x.h   devel/a-dev,libdevel/b-dev') ?? ''), 'a-dev');
  assert.equal(contentsLineToApt('garbage'), null);
});
