// Fuzzing campaign: seeded malformed, truncated, oversized and wrong-typed
// messages and file-transfer frames on all six endpoints of a real
// piw-master (loopback only), then checks that it is alive, serves valid
// requests on each endpoint, stored nothing and gave its memory back
// (test/helpers/fuzz-campaign.ts has the details).
//
//   npm run bench -- fuzz [--seed 1] [--messages 20000] [--no-oversized] [--only slaves,files] [--kinds]
import { parseArgs } from 'node:util';
import { ENDPOINTS, type EndpointName } from '../test/helpers/fuzz-cases.ts';
import { runFuzzCampaign } from '../test/helpers/fuzz-campaign.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    messages: { type: 'string', default: '20000' },
    'no-oversized': { type: 'boolean', default: false },
    kinds: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const only = values.only?.split(',');
if (only !== undefined && !only.every((e): e is EndpointName => (ENDPOINTS as readonly string[]).includes(e))) {
  console.error(`fuzz: --only takes endpoints from ${ENDPOINTS.join(', ')}`);
  process.exit(2);
}
const report = await runFuzzCampaign({
  seed: Number(values.seed), messages: Number(values.messages), oversized: !values['no-oversized'], log: (line) => console.log(line),
  ...(only === undefined ? {} : { only }),
});
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
console.log(`\n| fuzz campaign (seed ${values.seed}) | figure |`);
console.log('|---|---|');
for (const endpoint of ENDPOINTS) console.log(`| messages tried, ${endpoint} | ${report.sent[endpoint]} |`);
console.log(`| schema-valid cases made harmless / withheld (control) | ${report.defused} / ${report.withheld} |`);
console.log(`| replies received | ${report.replies} |`);
console.log(`| crashes | ${report.crashes} |`);
console.log(`| errors / warnings logged by the master | ${report.errorsLogged} / ${report.warningsLogged} |`);
console.log(`| decoder escapes (non-protocol errors, decoded locally) | ${report.escapes.length} |`);
console.log(`| master RSS baseline / peak / after | ${mib(report.rss.baseline)} / ${mib(report.rss.peak)} / ${mib(report.rss.after)} |`);
console.log(`| stored data changed | ${report.storeChanges.length} |`);
for (const endpoint of ENDPOINTS) console.log(`| valid request served afterwards, ${endpoint} | ${report.served[endpoint] ?? 'yes'} |`);
console.log(`| stopped cleanly afterwards | ${report.stoppedCleanly ? 'yes' : 'no'} |`);
console.log(`| wall time | ${report.seconds.toFixed(0)} s |`);
for (const message of report.errorMessages) console.log(`error logged: ${message}`);
for (const escape of report.escapes.slice(0, 10)) console.log(`escape: ${escape}`);
for (const change of report.storeChanges.slice(0, 20)) console.log(`changed: ${change}`);
if (values.kinds) for (const [kind, n] of [...report.kinds].sort()) console.log(`  ${n}\t${kind}`);
const failed = report.crashes > 0 || report.storeChanges.length > 0 || Object.values(report.served).some((problem) => problem !== null);
process.exit(failed ? 1 : 0);
