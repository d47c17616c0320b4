// Crash campaign: a burst of builds by simulated slaves (real wheels,
// transferred and verified) against a real piw-master, SIGKILLed at seeded
// random moments and restarted; after each trial nothing acknowledged is
// lost, no partial file is visible, no page rewrite is lost and piw-audit is
// clean (test/helpers/crash-campaign.ts has the details).
//
//   npm run bench -- crash [--trials 5] [--dialect sqlite|postgres] [--seed 1]
import { parseArgs } from 'node:util';
import { runCrashCampaign } from '../test/helpers/crash-campaign.ts';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '5' },
    dialect: { type: 'string', default: 'sqlite' },
    seed: { type: 'string', default: '1' },
    packages: { type: 'string', default: '6' },
    versions: { type: 'string', default: '4' },
    slaves: { type: 'string', default: '4' },
  },
});
const dialect = values.dialect;
if (dialect !== 'sqlite' && dialect !== 'postgres') {
  console.error('crash: --dialect must be sqlite or postgres');
  process.exit(2);
}
const started = Date.now();
const report = await runCrashCampaign({
  dialect, trials: Number(values.trials), seed: Number(values.seed), packages: Number(values.packages),
  versionsPerPackage: Number(values.versions), slaves: Number(values.slaves), log: (line) => console.log(line),
});
const sum = (pick: (t: (typeof report.trials)[number]) => number): number => report.trials.reduce((n, t) => n + pick(t), 0);
console.log(`\n| crash campaign (${dialect}, seed ${values.seed}) | figure |`);
console.log('|---|---|');
console.log(`| trials | ${report.trials.length} |`);
console.log(`| SIGKILLs | ${sum((t) => t.kills)} |`);
console.log(`| builds acknowledged (DONE) | ${sum((t) => t.acknowledged)} |`);
console.log(`| slave reconnections | ${sum((t) => t.reconnections)} |`);
console.log(`| acknowledged builds lost | ${sum((t) => t.lost.length)} |`);
console.log(`| partial or temporary files visible | ${sum((t) => t.partial.length)} |`);
console.log(`| recorded builds without their pages | ${sum((t) => t.pagesMissing.length)} |`);
console.log(`| piw-audit problems | ${sum((t) => t.audit.length)} |`);
console.log(`| wall time | ${((Date.now() - started) / 1000).toFixed(0)} s |`);
const failures = sum((t) => t.lost.length + t.partial.length + t.pagesMissing.length + t.audit.length);
process.exit(failures === 0 ? 0 : 1);
