import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BigBrother, masterStats } from '../../../coordinator/monitor/big-brother.ts';
import { encodeMessage, monitorStats, type MasterStatsMessage } from '../../../shared/wire/protocols.ts';
import type { FarmStatistics } from '../../../shared/model.ts';
import type { SystemStats } from '../../../shared/sysinfo.ts';

const farm: FarmStatistics = {
  packagesBuilt: 3, buildsTime: 90.5, buildsSize: 1234, filesCount: 2, newLastHour: 1,
  buildsLastHour: { cp311: 3 }, buildsPending: { cp311: 7 }, downloadsLastHour: 4, downloadsLastMonth: 5, downloadsAll: 6,
};
const system = (diskFree: number): SystemStats => ({
  timestamp: new Date('2026-01-02T03:04:05Z'), diskSize: 10 * 1024 ** 3, diskFree, memSize: 100, memFree: 50,
  swapSize: 0, swapFree: 0, loadAverage: 1, cpuTemperature: 0,
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i += 1) await sleep(2);
  assert.ok(check(), 'condition never became true');
}

describe('big brother', () => {
  test('STATS carries farm and machine figures and encodes for monitors', () => {
    const stats = masterStats(farm, system(5 * 1024 ** 3), 10);
    assert.equal(stats[1], 3);
    assert.equal(stats[3].totalSeconds(), 90.5);
    assert.deepEqual(stats[5], { cp311: 7 });
    assert.equal(stats[10], 16, 'downloads logged since the last read are added');
    assert.equal(stats[12], 5 * 1024 ** 3);
    // whole floats (load 1, temperature 0) must still encode: the Python side wants floats
    const bytes = encodeMessage(monitorStats.send, 'STATS', stats);
    assert.ok(bytes.includes(Buffer.from('fb3ff0000000000000', 'hex')), 'load average 1.0 written as float64');
  });

  test('publishes, rewrites home and search, replays history', async () => {
    const published: MasterStatsMessage[] = [];
    const homes: FarmStatistics[] = [];
    let searches = 0;
    const bb = new BigBrother({
      outputPath: '/',
      statsSeconds: 3600, homeSeconds: 3600, searchSeconds: 3600,
      deps: {
        async getStatistics() { return farm; },
        async getSearchIndex() { return [{ package: 'foo', description: '', downloadsRecent: 1, downloadsAll: 2 }]; },
        async writeHome(s) { homes.push(s); },
        async writeSearchIndex(entries) { searches += entries.length; },
        publish: (s) => published.push(s),
        diskFull: () => assert.fail('the disk is not full'),
        systemStats: async () => system(5 * 1024 ** 3),
      },
    });
    await bb.start();
    await until(() => published.length === 1 && homes.length === 1 && searches === 1);
    bb.addDownloads(2);
    bb.forceHome();
    await until(() => homes.length === 2 && searches === 2);
    const before = published.length;
    bb.replay();
    assert.equal(published.length, before * 2, 'replay re-sends the history');
    await bb.stop();
  });

  test('a nearly full output disk puts the farm to sleep once, again after a wake', async () => {
    let full = 0;
    let ticks = 0;
    const bb = new BigBrother({
      outputPath: '/', statsSeconds: 0.001, homeSeconds: 3600, searchSeconds: 3600,
      deps: {
        async getStatistics() { return farm; },
        async getSearchIndex() { return []; },
        async writeHome() {},
        async writeSearchIndex() {},
        publish: () => { ticks += 1; },
        diskFull: () => { full += 1; },
        systemStats: async () => system(1024),
      },
    });
    await bb.start();
    await until(() => ticks >= 5);
    assert.equal(full, 1);
    bb.woken();
    const after = ticks;
    await until(() => ticks >= after + 2);
    assert.equal(full, 2);
    await bb.stop();
  });
});
