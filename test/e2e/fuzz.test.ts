// A bounded run of the fuzzing campaign (npm run bench -- fuzz for the long
// one): a few thousand seeded malformed messages on all six endpoints of a
// real piw-master, then the same invariants the benchmark checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENDPOINTS } from '../helpers/fuzz-cases.ts';
import { runFuzzCampaign } from '../helpers/fuzz-campaign.ts';

test('3000 fuzzed messages on all six endpoints: no crash, nothing stored changes, memory returns, every endpoint still serves', async () => {
  const report = await runFuzzCampaign({ seed: 20261206, messages: 3000, oversized: true });
  for (const endpoint of ENDPOINTS) assert.ok(report.sent[endpoint] > 0, `nothing sent to ${endpoint}`);
  assert.equal(report.crashes, 0);
  assert.deepEqual(report.escapes, []);
  assert.deepEqual(report.storeChanges, []);
  assert.deepEqual(report.served, Object.fromEntries(ENDPOINTS.map((endpoint) => [endpoint, null])));
  // back within the campaign's tolerance: the larger of 64 MiB and 15% over the baseline
  assert.ok(report.rss.after <= report.rss.baseline + Math.max(64 * 2 ** 20, report.rss.baseline * 0.15), `RSS ${report.rss.after} after, ${report.rss.baseline} before`);
  assert.equal(report.stoppedCleanly, true);
});
