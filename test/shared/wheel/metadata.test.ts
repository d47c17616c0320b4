import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  BadWheelError,
  chooseMetadataPath,
  mandatoryRequirement,
  metadataField,
  parseCoreMetadata,
  pipDependencies,
  readWheelMetadata,
} from '../../../shared/wheel/metadata.ts';

const METADATA = [
  'Metadata-Version: 2.1',
  'Name: Foo.Bar',
  'Version: 1.0',
  'Summary: a test',
  'License: line one',
  '        line two',
  'Requires-Python: >=3.7',
  'Requires-Dist: Requests (>=2.0)',
  'Requires-Dist: six',
  'Requires-Dist: pytest ; extra == "test"',
  'Requires-Dist: colorama; sys_platform == "win32"',
  'Requires-Dist: Six>=1',
  'Requires-Dist: !!bad!!',
  '',
  'The long description.',
  'Second line.',
].join('\n');

describe('core metadata parsing', () => {
  test('fields, repeated fields, continuation lines and body', () => {
    const parsed = parseCoreMetadata(METADATA);
    assert.equal(metadataField(parsed, 'name'), 'Foo.Bar');
    assert.equal(metadataField(parsed, 'REQUIRES-PYTHON'), '>=3.7');
    assert.equal(metadataField(parsed, 'License'), 'line one\nline two');
    assert.equal(parsed.fields.get('requires-dist')?.length, 6);
    assert.equal(parsed.body, 'The long description.\nSecond line.');
    assert.equal(metadataField(parsed, 'Home-page'), null);
  });

  test('CRLF line ends and headers without a body', () => {
    const parsed = parseCoreMetadata('Metadata-Version: 2.1\r\nName: x\r\nRequires-Python: >=3.8\r\n');
    assert.equal(metadataField(parsed, 'Requires-Python'), '>=3.8');
    assert.equal(parsed.body, '');
  });

  test('a line that is not a header ends the headers', () => {
    const parsed = parseCoreMetadata('Name: x\nthis is not a header\nVersion: 2');
    assert.equal(metadataField(parsed, 'Name'), 'x');
    assert.equal(metadataField(parsed, 'Version'), null);
    assert.equal(parsed.body, 'this is not a header\nVersion: 2');
  });

  test('mandatory dependencies skip extras and malformed entries', () => {
    assert.deepEqual(pipDependencies(parseCoreMetadata(METADATA)), ['colorama', 'requests', 'six']);
    assert.equal(mandatoryRequirement('numpy>=1.20'), 'numpy');
    assert.equal(mandatoryRequirement('Zope.Interface[foo] (>=4)'), 'zope-interface');
    assert.equal(mandatoryRequirement('pkg @ https://example.com/pkg.zip'), 'pkg');
    assert.equal(mandatoryRequirement('tests; extra=="test"'), null);
    assert.equal(mandatoryRequirement(''), null);
    assert.equal(mandatoryRequirement('two words'), null);
    assert.equal(mandatoryRequirement(`${'a'.repeat(300)}`), null);
  });
});

describe('choosing the METADATA member', () => {
  test('the single dist-info METADATA', () => {
    assert.equal(
      chooseMetadataPath(['foo/__init__.py', 'foo-1.0.dist-info/RECORD', 'foo-1.0.dist-info/METADATA']),
      'foo-1.0.dist-info/METADATA',
    );
  });

  test('a nested or missing METADATA is refused', () => {
    assert.throws(() => chooseMetadataPath(['foo/bar-1.0.dist-info/METADATA']), BadWheelError);
    assert.throws(() => chooseMetadataPath([]), /no \*\.dist-info\/METADATA/);
  });

  test('several: the one matching the expected project wins, else an error', () => {
    const entries = ['vendored-2.0.dist-info/METADATA', 'Foo_Bar-1.0.dist-info/METADATA'];
    assert.equal(chooseMetadataPath(entries, { name: 'foo.bar', version: '1.0' }), 'Foo_Bar-1.0.dist-info/METADATA');
    assert.throws(() => chooseMetadataPath(entries), /several METADATA/);
    assert.throws(() => chooseMetadataPath(entries, { name: 'other', version: '1.0' }), /several METADATA/);
  });
});

describe('reading wheels', () => {
  let dir = '';
  const makeZip = (name: string, members: Record<string, string>): string => {
    const path = join(dir, name);
    const script = [
      'import sys, json, zipfile',
      'members = json.loads(sys.argv[2])',
      'with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:',
      '    for k, v in members.items(): z.writestr(k, v)',
    ].join('\n');
    execFileSync('/usr/bin/python3', ['-c', script, path, JSON.stringify(members)]);
    return path;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'piw-wheelmeta-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('reads METADATA bytes, hash and Requires-Python from a file and a buffer', async () => {
    const path = makeZip('foo_bar-1.0-py3-none-any.whl', {
      'foo_bar/__init__.py': '',
      'foo_bar-1.0.dist-info/METADATA': METADATA,
      'foo_bar-1.0.dist-info/RECORD': '',
    });
    const fromFile = await readWheelMetadata(path);
    assert.equal(fromFile.path, 'foo_bar-1.0.dist-info/METADATA');
    assert.equal(fromFile.raw.toString('utf8'), METADATA);
    assert.equal(fromFile.sha256, createHash('sha256').update(METADATA).digest('hex'));
    assert.equal(fromFile.requiresPython, '>=3.7');
    assert.deepEqual(fromFile.pipDependencies, ['colorama', 'requests', 'six']);
    const fromBuffer = await readWheelMetadata(readFileSync(path));
    assert.equal(fromBuffer.sha256, fromFile.sha256);
  });

  test('no Requires-Python gives null', async () => {
    const path = makeZip('x-1-py3-none-any.whl', { 'x-1.dist-info/METADATA': 'Metadata-Version: 2.1\nName: x\nVersion: 1\n' });
    assert.equal((await readWheelMetadata(path)).requiresPython, null);
  });

  test('bad input: not a zip, no METADATA, METADATA that is not metadata, missing file', async () => {
    const junk = join(dir, 'junk.whl');
    writeFileSync(junk, 'this is not a zip file at all');
    await assert.rejects(readWheelMetadata(junk), BadWheelError);
    await assert.rejects(readWheelMetadata(Buffer.from('PK\x03\x04garbage')), BadWheelError);
    await assert.rejects(readWheelMetadata(makeZip('empty.whl', { 'x/__init__.py': '' })), /no \*\.dist-info/);
    await assert.rejects(
      readWheelMetadata(makeZip('binary.whl', { 'x-1.dist-info/METADATA': '\n\x00\x01binary' })),
      /not core metadata/,
    );
    await assert.rejects(readWheelMetadata(join(dir, 'missing.whl')), BadWheelError);
  });
});
