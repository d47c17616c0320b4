// piw-monitor: a terminal view of a running coordinator (ours or piwheels'),
// from its status endpoint, and a remote control through its control
// endpoint: sleep, wake, skip the build of, or kill one slave or all, and
// stop the master. Every action is confirmed first.
import { Command } from 'commander';
import termkit from 'terminal-kit';
import { z } from 'zod';
import { UserError } from '../../shared/cli.ts';
import { zmqAddress } from '../../shared/config.ts';
import { ProtocolError, masterControl, reverse } from '../../shared/wire/protocols.ts';
import { DEFAULT_ENDPOINTS, createSocket } from '../../shared/wire/transport.ts';
import { toolConfig, withCommonOptions, withCurveOptions, useToolCurve, type CommonFlags } from './common.ts';
import { MonitorModel, monitorProtocol, renderScreen } from './monitor-state.ts';

const settings = z.object({
  statusQueue: zmqAddress.default(DEFAULT_ENDPOINTS.status),
  controlQueue: zmqAddress.default(DEFAULT_ENDPOINTS.control),
});

type Action = 'SLEEP' | 'WAKE' | 'SKIP' | 'KILL';

const ACTION_KEYS: Readonly<Record<string, Action>> = { s: 'SLEEP', w: 'WAKE', x: 'SKIP', k: 'KILL' };
const ACTION_WORDS: Readonly<Record<Action, string>> = { SLEEP: 'Sleep', WAKE: 'Wake', SKIP: 'Skip the current build of', KILL: 'Kill' };

/** What pressing `key` asks to do, or null: a pure mapping for the key handler. */
export function keyAction(key: string): { action: Action; all: boolean } | null {
  const lower = key.toLowerCase();
  const action = ACTION_KEYS[lower];
  if (action === undefined || key.length !== 1) return null;
  return { action, all: key !== lower };
}

function program(): Command {
  return withCurveOptions(withCommonOptions(new Command('piw-monitor')))
    .description(
      "Watch a running coordinator: its statistics, its build slaves and their messages, live. Keys act on the selected slave " +
        '(s sleep, w wake, x skip its build, k kill) or, in capitals, on all of them; Q stops the master; q leaves. Every action asks ' +
        'for confirmation. Works with piwheels masters too.',
    )
    .option('--status-queue <ADDR>', `the coordinator's status endpoint (default: ${DEFAULT_ENDPOINTS.status}; env PIW_STATUS_QUEUE)`)
    .option('--control-queue <ADDR>', `the coordinator's control endpoint (default: ${DEFAULT_ENDPOINTS.control}; env PIW_CONTROL_QUEUE)`);
}

export async function main(argv: string[]): Promise<number> {
  const command = program();
  command.parse(argv);
  const opts = command.opts<CommonFlags & { statusQueue?: string; controlQueue?: string }>();
  useToolCurve('monitor', opts);
  const config = toolConfig(settings, 'monitor', { statusQueue: opts.statusQueue, controlQueue: opts.controlQueue }, opts.configuration);
  if (!process.stdout.isTTY) throw new UserError('piw-monitor needs a terminal');

  const status = createSocket('SUB', { protocol: monitorProtocol, linger: 0 });
  status.subscribe('');
  status.connect(config.statusQueue);
  const control = createSocket('PUSH', { protocol: reverse(masterControl), linger: 1, hwm: 10 });
  control.connect(config.controlQueue);

  const term = termkit.terminal;
  const model = new MonitorModel();
  let selected: number | null = null;
  let prompt: { text: string; msg: Action | 'QUIT'; slave: number | null } | null = null;
  let notice: string | null = null;
  let dirty = true;

  const draw = (): void => {
    dirty = false;
    const ids = model.ordered().map((s) => s.id);
    if (selected === null || !ids.includes(selected)) selected = ids[0] ?? null;
    const screen = renderScreen(model, selected, new Date(), term.width, term.height, prompt ? `${prompt.text} [y/N]` : notice);
    screen.lines.forEach((line, i) => {
      term.moveTo(1, i + 1);
      if (i === screen.selectedLine) term.inverse(line);
      else if (i === 0) term.bold(line);
      else term(line);
    });
  };

  const send = (msg: Action | 'QUIT', slave: number | null): void => {
    const sent = msg === 'QUIT' ? control.send('QUIT') : control.send(msg, slave);
    sent.catch(() => undefined);
    notice = `sent ${msg}${msg === 'QUIT' ? '' : slave === null ? ' to all slaves' : ` to slave ${slave}`}`;
  };

  let finish: (() => void) | undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));

  term.fullscreen(true);
  term.hideCursor();
  term.grabInput(true);
  term.on('resize', () => (dirty = true));
  term.on('key', (key: string) => {
    dirty = true;
    if (prompt !== null) {
      const p = prompt;
      prompt = null;
      if (key === 'y' || key === 'Y') send(p.msg, p.slave);
      else notice = 'cancelled';
      return;
    }
    notice = null;
    const ids = model.ordered().map((s) => s.id);
    const at = selected === null ? -1 : ids.indexOf(selected);
    if (key === 'UP' || key === 'DOWN') {
      const next = key === 'UP' ? Math.max(0, at - 1) : Math.min(ids.length - 1, at + 1);
      selected = ids[next] ?? null;
    } else if (key === 'q' || key === 'CTRL_C' || key === 'ESCAPE') {
      finish?.();
    } else if (key === 'Q') {
      prompt = { text: 'Stop the master?', msg: 'QUIT', slave: null };
    } else {
      const act = keyAction(key);
      if (act === null) return;
      if (act.all) prompt = { text: `${ACTION_WORDS[act.action]} ALL slaves?`, msg: act.action, slave: null };
      else if (selected !== null) {
        const label = model.slaves.get(selected)?.label ?? '';
        prompt = { text: `${ACTION_WORDS[act.action]} slave ${selected} (${label})?`, msg: act.action, slave: selected };
      } else notice = 'no slave selected';
    }
  });

  const receiving = (async () => {
    while (!status.closed) {
      try {
        model.apply(await status.recv());
        dirty = true;
      } catch (error) {
        if (status.closed) return;
        if (error instanceof ProtocolError) model.ignored += 1;
        else return;
      }
    }
  })();
  // the SUB socket needs a moment to join before the master replays its state
  const hello = setTimeout(() => void control.send('HELLO').catch(() => undefined), 500);
  const ticker = setInterval(() => draw(), 1000);
  const painter = setInterval(() => {
    if (dirty) draw();
  }, 100);
  draw();
  try {
    await done;
  } finally {
    clearTimeout(hello);
    clearInterval(ticker);
    clearInterval(painter);
    status.close(0);
    control.close(1);
    await receiving;
    term.grabInput(false);
    term.hideCursor(false);
    term.fullscreen(false);
  }
  return 0;
}
