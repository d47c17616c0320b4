// Runs a CloudGazer in its own process until it has stored `target`, printing
// each serial it reaches, so a test can kill it -9 part-way and start again.
import { openDatabase } from '../../../shared/db/index.ts';
import { PyPIClient } from '../../../coordinator/upstream/pypi.ts';
import { CloudGazer } from '../../../coordinator/upstream/cloud-gazer.ts';

const [dsn, url, targetText] = process.argv.slice(2);
if (dsn === undefined || url === undefined || targetText === undefined) throw new Error('usage: gazer-child DSN URL TARGET');
const target = Number(targetText);
const db = await openDatabase(dsn);
const pypi = new PyPIClient({ xmlrpcUrl: `${url}/pypi`, jsonUrl: `${url}/pypi`, timeoutMs: 2000, retries: 2, backoffMs: 10 });
const gazer = new CloudGazer({ db, pypi, pollSeconds: 0.05 });
await gazer.start();
let last = -1;
while (gazer.currentSerial < target) {
  if (gazer.currentSerial !== last) {
    last = gazer.currentSerial;
    process.stdout.write(`serial ${last}\n`);
  }
  await new Promise((resolve) => setTimeout(resolve, 5));
}
await gazer.descriptionsSettled();
await gazer.stop();
await db.close();
process.stdout.write(`done ${gazer.currentSerial}\n`);
