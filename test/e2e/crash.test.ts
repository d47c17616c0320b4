// A bounded run of the crash campaign (npm run bench -- crash for the long
// one): a real piw-master SIGKILLed during bursts of simulated builds, on
// SQLite and on PostgreSQL, with the invariants the benchmark checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCrashCampaign } from '../helpers/crash-campaign.ts';

for (const [dialect, trials] of [['sqlite', 3], ['postgres', 2]] as const) {
  test(`${trials} trials on ${dialect}: nothing acknowledged lost, no partial file, no page lost, piw-audit clean`, async () => {
    const report = await runCrashCampaign({ dialect, trials, seed: 7, packages: 4, versionsPerPackage: 3, slaves: 3 });
    assert.equal(report.trials.length, trials);
    for (const trial of report.trials) {
      assert.ok(trial.kills >= 1);
      assert.ok(trial.acknowledged > 0, `trial ${trial.trial}: nothing acknowledged`);
      assert.deepEqual(trial.lost, [], `trial ${trial.trial}`);
      assert.deepEqual(trial.partial, [], `trial ${trial.trial}`);
      assert.deepEqual(trial.pagesMissing, [], `trial ${trial.trial}`);
      assert.deepEqual(trial.audit, [], `trial ${trial.trial}`);
    }
  });
}
