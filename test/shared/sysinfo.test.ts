import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import {
  deviceTreeHex,
  parseCpuinfoBoard,
  parseMeminfo,
  parseOsRelease,
  parsePythonTags,
  parseThermal,
  probePython,
  readBoardInfo,
  readOsRelease,
  readSystemStats,
} from '../../shared/sysinfo.ts';

describe('os-release', () => {
  test('quoted values and defaults', () => {
    const text = [
      'PRETTY_NAME="Raspbian GNU/Linux 11 (bullseye)"',
      'NAME="Raspbian GNU/Linux"',
      "VERSION='11 (bullseye)'",
      'ID=raspbian',
      '# a comment',
      'garbage line',
    ].join('\n');
    assert.deepEqual(parseOsRelease(text), { name: 'Raspbian GNU/Linux', version: '11 (bullseye)' });
    assert.deepEqual(parseOsRelease('NAME=Alpine\n'), { name: 'Alpine', version: '' });
    assert.deepEqual(parseOsRelease(''), { name: 'Linux', version: '' });
    assert.deepEqual(parseOsRelease('NAME="say \\"hi\\""'), { name: 'say "hi"', version: '' });
  });

  test('this machine', async () => {
    const info = await readOsRelease();
    assert.ok(info.name.length > 0);
  });
});

describe('meminfo', () => {
  const base = ['MemTotal:        3884376 kB', 'MemFree:          123456 kB', 'Cached:           200000 kB'];
  test('MemAvailable preferred', () => {
    const stats = parseMeminfo(
      [...base, 'MemAvailable:    2000000 kB', 'SwapTotal:        102396 kB', 'SwapFree:          51200 kB', 'HugePages_Total:       0'].join('\n'),
    );
    assert.deepEqual(stats, {
      memSize: 3884376 * 1024,
      memFree: 2000000 * 1024,
      swapSize: 102396 * 1024,
      swapFree: 51200 * 1024,
    });
  });

  test('older kernels: MemFree + Cached; no swap lines gives 0', () => {
    const stats = parseMeminfo(base.join('\n'));
    assert.equal(stats.memFree, (123456 + 200000) * 1024);
    assert.equal(stats.swapSize, 0);
  });

  test('no MemTotal is an error', () => {
    assert.throws(() => parseMeminfo('nonsense\n'), /MemTotal/);
  });
});

describe('board', () => {
  test('Raspberry Pi cpuinfo', () => {
    const text = ['processor\t: 0', 'Hardware\t: BCM2835', 'Revision\t: 00a02082', 'Serial\t\t: 00000000abcdef12', 'Model\t\t: Raspberry Pi 3'].join('\n');
    assert.deepEqual(parseCpuinfoBoard(text), { revision: 'a02082', serial: 'abcdef12' });
  });

  test('not a Pi', () => {
    assert.deepEqual(parseCpuinfoBoard('model name\t: AMD EPYC\n'), { revision: '', serial: '' });
  });

  test('device tree cells', () => {
    assert.equal(deviceTreeHex(Buffer.from([0x00, 0xa0, 0x20, 0x82]), 4), 'a02082');
    assert.equal(deviceTreeHex(Buffer.from([0, 0, 0, 0, 0xab, 0xcd, 0xef, 0x12]), 8), 'abcdef12');
    assert.equal(deviceTreeHex(Buffer.from([1, 2]), 4), '');
  });

  test('this machine gives strings', async () => {
    const board = await readBoardInfo();
    assert.equal(typeof board.revision, 'string');
    assert.equal(typeof board.serial, 'string');
  });
});

describe('thermal and stats', () => {
  test('millidegrees', () => {
    assert.equal(parseThermal('48312\n'), 48.312);
    assert.equal(parseThermal(''), 0);
    assert.equal(parseThermal('hot'), 0);
  });

  test('statistics of this machine are sane', async () => {
    const stats = await readSystemStats(tmpdir());
    assert.ok(stats.diskSize > 0 && stats.diskFree <= stats.diskSize);
    assert.ok(stats.memSize > 0 && stats.memFree <= stats.memSize);
    assert.ok(stats.loadAverage >= 0);
    assert.ok(stats.timestamp instanceof Date);
  });

  test('statistics of a missing directory fail', async () => {
    await assert.rejects(readSystemStats('/nonexistent/build/dir'));
  });
});

describe('python tags', () => {
  test('parses the probe output and rejects junk', () => {
    assert.deepEqual(parsePythonTags('warning\n{"pyVersion":"39","abi":"cp39","platform":"linux_armv7l","version":"3.9.2"}\n'), {
      pyVersion: '39',
      abi: 'cp39',
      platform: 'linux_armv7l',
      version: '3.9.2',
    });
    assert.throws(() => parsePythonTags('Traceback...'), /unexpected output/);
    assert.throws(() => parsePythonTags('{"pyVersion":"x3","abi":"cp39","platform":"p","version":"3"}'));
  });

  test('asks the real interpreter', async () => {
    const tags = await probePython('/usr/bin/python3');
    assert.match(tags.pyVersion, /^3\d+$/);
    assert.match(tags.abi, /^cp3\d+/);
    assert.match(tags.platform, /^linux_/);
  });

  test('a missing interpreter is a clear error', async () => {
    await assert.rejects(probePython('/nonexistent/python'), /cannot ask \/nonexistent\/python/);
  });
});
