import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Timedelta } from '../../shared/wire/cbor.ts';
import {
  buildStateSchema,
  decodeMessage,
  encodeMessage,
  fileStateSchema,
  mrChase,
  reverse,
  slaveDriver,
  type FileStateMessage,
} from '../../shared/wire/protocols.ts';
import { BuildRecordSchema } from '../../shared/db/records.ts';
import {
  addArmv6Twins,
  armv6TwinName,
  buildFromMessage,
  builderPlatform,
  buildToMessage,
  builtFromMessage,
  builtToMessage,
  fileFromMessage,
  fileToMessage,
  nextFile,
  toBuildRecord,
  type BuildResult,
  type WheelFile,
} from '../../shared/build.ts';

const HASH = '0c8ac8594d8d22a55d36b1a38617651d0787dd0ce248e53bb7b9bbcec63112c3';

const fileMsg = (name: string, platform = 'any'): FileStateMessage => [
  name, 1226, HASH, 'e2e_pure', '1.1', 'py3', 'none', platform, '>=3.7', { apt: [], pip: [], '': [] }, '/simple',
];

const wheel = (name: string, platform = 'any'): WheelFile => ({
  filename: name, filesize: 1226, filehash: HASH, packageTag: 'e2e_pure', packageVersionTag: '1.1', pyVersionTag: 'py3',
  abiTag: 'none', platformTag: platform, requiresPython: '>=3.7', dependencies: { apt: ['libc6'], pip: ['six'], '': [] },
});

describe('file states', () => {
  test('round-trip through their message form, which the schema accepts', () => {
    const file = fileFromMessage(fileMsg('b-1.1-py3-none-any.whl'));
    assert.equal(file.transferred, false);
    assert.equal(file.metadataHash, null);
    assert.deepEqual(fileToMessage(file), fileMsg('b-1.1-py3-none-any.whl'));
    assert.doesNotThrow(() => fileStateSchema.parse(fileToMessage(file)));
    file.transferred = true;
    file.metadataHash = HASH;
    assert.equal(fileToMessage(file).length, 11, 'what the master learns is never sent');
  });

  test('hashes are kept lower-case; a wheel without a location goes under /simple', () => {
    const upper = fileMsg('a-1.1-py3-none-any.whl');
    upper[2] = HASH.toUpperCase();
    assert.equal(fileFromMessage(upper).filehash, HASH);
    assert.equal(fileToMessage(wheel('a-1.1-py3-none-any.whl'))[10], '/simple');
  });
});

describe('builds', () => {
  test('BUILT from the slave reads back as the master keeps it', () => {
    // extra facts a builder knows (its path, the METADATA bytes) stay on the slave
    const inspected = { ...wheel('e2e_pure-1.1-py3-none-any.whl'), path: '/x/e2e_pure-1.1-py3-none-any.whl', metadata: Buffer.from('Name: e2e-pure\n') };
    const data = builtToMessage(true, new Timedelta(0, 2, 372039), 'log ✓', [inspected]);
    const back = decodeMessage(slaveDriver.recv, encodeMessage(reverse(slaveDriver).send, 'BUILT', data));
    assert.ok(back.msg === 'BUILT');
    const built = builtFromMessage(back.data);
    assert.equal(built.status, true);
    assert.equal(built.duration, 2.372039);
    assert.equal(built.output, 'log ✓');
    assert.deepEqual(built.files.map((f) => [f.filename, f.dependencies, f.location, f.transferred]), [
      ['e2e_pure-1.1-py3-none-any.whl', { apt: ['libc6'], pip: ['six'], '': [] }, '/simple', false],
    ]);
  });

  test('IMPORT carries files in filename order and reads back; transfers go in that order', () => {
    const message = buildToMessage({
      slaveId: 0, package: 'e2e-pure', version: '1.1', abiTag: 'cp311', status: true, duration: new Timedelta(0, 2, 372039), output: 'log',
      files: [wheel('b-1.1-py3-none-any.whl'), wheel('a-1.1-py3-none-any.whl')],
    });
    assert.deepEqual(message[7].map((m) => m[0]), ['a-1.1-py3-none-any.whl', 'b-1.1-py3-none-any.whl']);
    assert.doesNotThrow(() => buildStateSchema.parse(message));
    const wire = decodeMessage(mrChase.recv, encodeMessage(reverse(mrChase).send, 'IMPORT', message));
    assert.ok(wire.msg === 'IMPORT');
    const build = buildFromMessage(wire.data);
    assert.ok(build !== null);
    assert.equal(build.platformTag, '', 'portable wheels say nothing of the builder platform');
    assert.deepEqual([build.slaveId, build.package, build.version, build.abiTag, build.status, build.duration, build.output], [0, 'e2e-pure', '1.1', 'cp311', true, 2.372039, 'log']);
    assert.equal(nextFile(build)?.filename, 'a-1.1-py3-none-any.whl');
    build.files.find((f) => f.filename === 'a-1.1-py3-none-any.whl')!.transferred = true;
    assert.equal(nextFile(build)?.filename, 'b-1.1-py3-none-any.whl');
    build.files.find((f) => f.filename === 'b-1.1-py3-none-any.whl')!.transferred = true;
    assert.equal(nextFile(build), undefined);
  });
});

describe('builder platform of an import', () => {
  test('the one platform its wheels name, armv6l twins aside; none for portable wheels; null for several', () => {
    const f = (platformTag: string) => ({ platformTag });
    assert.equal(builderPlatform([f('linux_aarch64'), f('any')]), 'linux_aarch64');
    assert.equal(builderPlatform([f('linux_armv7l'), f('linux_armv6l')]), 'linux_armv7l');
    assert.equal(builderPlatform([f('any')]), '');
    assert.equal(builderPlatform([f('linux_armv7l'), f('linux_aarch64')]), null);
  });
});

describe('armv6l twins', () => {
  test('an armv7l wheel gets an armv6l twin, already in place; others do not', () => {
    assert.equal(armv6TwinName('foo-1.0-cp311-cp311-linux_armv7l.whl'), 'foo-1.0-cp311-cp311-linux_armv6l.whl');
    assert.equal(armv6TwinName('foo-1.0-py3-none-any.whl'), null);
    const files = addArmv6Twins([
      fileFromMessage(fileMsg('foo-1.0-cp311-cp311-linux_armv7l.whl', 'linux_armv7l')),
      fileFromMessage(fileMsg('foo-1.0-py3-none-any.whl')),
    ]);
    assert.deepEqual(files.map((f) => [f.filename, f.platformTag, f.transferred]), [
      ['foo-1.0-cp311-cp311-linux_armv7l.whl', 'linux_armv7l', false],
      ['foo-1.0-py3-none-any.whl', 'any', false],
      ['foo-1.0-cp311-cp311-linux_armv6l.whl', 'linux_armv6l', true],
    ]);
  });

  test('a real armv6l wheel of the build is not doubled', () => {
    const files = addArmv6Twins([
      fileFromMessage(fileMsg('foo-1.0-cp311-cp311-linux_armv7l.whl', 'linux_armv7l')),
      fileFromMessage(fileMsg('foo-1.0-cp311-cp311-linux_armv6l.whl', 'linux_armv6l')),
    ]);
    assert.equal(files.length, 2);
    assert.equal(files[1]!.transferred, false, 'the real one is still to be sent');
  });
});

describe('database records', () => {
  const build = (abiTag: string): BuildResult => ({
    slaveId: 3, package: 'foo', version: '1.0', abiTag, platformTag: 'linux_armv7l', status: true, duration: 12.5, output: 'log',
    files: addArmv6Twins([{ ...fileFromMessage(fileMsg('foo-1.0-cp311-cp311-linux_armv7l.whl', 'linux_armv7l')), transferred: true, metadataHash: 'cd'.repeat(32) }]),
  });

  test('a build becomes a valid record; the twin shares its original METADATA hash', () => {
    const builtAt = new Date('2026-11-25T08:00:00Z');
    const record = toBuildRecord(build('cp311'), builtAt);
    assert.deepEqual(BuildRecordSchema.parse(record), record);
    assert.deepEqual([record.package, record.version, record.abiTag, record.slaveId, record.duration, record.builtAt], ['foo', '1.0', 'cp311', 3, 12.5, builtAt]);
    assert.deepEqual(record.files.map((f) => [f.filename, f.platformTag, f.metadataHash]), [
      ['foo-1.0-cp311-cp311-linux_armv7l.whl', 'linux_armv7l', 'cd'.repeat(32)],
      ['foo-1.0-cp311-cp311-linux_armv6l.whl', 'linux_armv6l', 'cd'.repeat(32)],
    ]);
    // the database keeps apt and pip dependencies; libraries no package provides are for the log only
    assert.deepEqual(record.files[0]!.dependencies, { apt: [], pip: [] });
  });

  test('a build for ABI "none" is refused', () => {
    assert.equal(BuildRecordSchema.safeParse(toBuildRecord(build('none'), new Date())).success, false);
  });
});
