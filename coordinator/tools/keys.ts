// piw-keys: makes a CURVE key pair for the master, a slave or a tool, as
// ZeroMQ certificate files (NAME.key to hand out, NAME.key_secret to keep).
import { mkdirSync } from 'node:fs';
import { Command } from 'commander';
import { UserError } from '../../shared/cli.ts';
import { writeCertificatePair } from '../../shared/wire/curve.ts';

function program(): Command {
  return new Command('piw-keys')
    .description(
      'Make a CURVE key pair: NAME.key (the public certificate: copy it to the master\'s --curve-clients folder for a ' +
        'slave or tool, or to each slave as its --curve-server for the master) and NAME.key_secret (keep it where it was made, readable only by its owner).',
    )
    .argument('<name>', 'the name of the pair, e.g. the slave\'s host name or "master"')
    .option('-d, --dir <DIR>', 'where to write the two files', '.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
}

export async function main(argv: string[]): Promise<number> {
  const command = program();
  command.parse(argv, { from: 'user' });
  const [name] = command.args as [string];
  const { dir } = command.opts<{ dir: string }>();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let made;
  try {
    made = writeCertificatePair(dir, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new UserError(`a key named ${name} already exists in ${dir}: choose another name or remove the old pair`);
    throw error;
  }
  process.stdout.write(`public certificate: ${made.publicFile}\nsecret certificate: ${made.secretFile}\npublic key: ${made.keys.publicKey}\n`);
  return 0;
}
