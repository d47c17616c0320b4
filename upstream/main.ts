import { runCli } from '../shared/cli.ts';
import { startFromArgs } from './cli.ts';

await runCli('piw-upstream', async () => {
  const { server, url } = await startFromArgs(process.argv.slice(2));
  process.stdout.write(`${url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.stop();
});
