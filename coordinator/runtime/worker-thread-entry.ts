// Runs inside a worker thread: builds objects from module exports when asked
// ('open'), answers method calls on them ('call') and forgets them ('drop'),
// for worker-thread.ts on the other side.
import { parentPort } from 'node:worker_threads';
import { z } from 'zod';

const request = z.discriminatedUnion('op', [
  z.object({ op: z.literal('open'), id: z.number(), handle: z.number(), module: z.string(), exportName: z.string(), args: z.array(z.unknown()) }),
  z.object({ op: z.literal('call'), id: z.number(), handle: z.number(), method: z.string(), args: z.array(z.unknown()) }),
  z.object({ op: z.literal('drop'), id: z.number(), handle: z.number() }),
]);

type Target = Record<string, unknown>;

async function build(module: string, exportName: string, args: unknown[]): Promise<Target> {
  const factory = ((await import(module)) as Record<string, unknown>)[exportName];
  if (typeof factory !== 'function') throw new Error(`${module} has no function ${exportName}`);
  return (await factory(...args)) as Target;
}

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('worker-thread-entry must run in a worker thread');
  // a call may arrive while its object is still being built: it waits for it
  const objects = new Map<number, Promise<Target>>();
  const answer = async (id: number, work: () => Promise<unknown>): Promise<void> => {
    try {
      port.postMessage({ id, ok: true, value: await work() });
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      port.postMessage({ id, ok: false, error: { name: e.name, message: e.message, code: (e as NodeJS.ErrnoException).code } });
    }
  };
  port.on('message', (raw: unknown) => {
    const parsed = request.safeParse(raw);
    if (!parsed.success) return;
    const msg = parsed.data;
    if (msg.op === 'open') {
      const target = build(msg.module, msg.exportName, msg.args);
      // a failed build is reported by the open request and by each later call
      target.catch(() => undefined);
      objects.set(msg.handle, target);
      void answer(msg.id, async () => (await target, null));
      return;
    }
    const target = objects.get(msg.handle);
    if (msg.op === 'drop') {
      objects.delete(msg.handle);
      void answer(msg.id, async () => null);
      return;
    }
    void answer(msg.id, async () => {
      if (!target) throw new Error(`no object ${msg.handle} in this thread`);
      const object = await target;
      const fn = object[msg.method];
      if (typeof fn !== 'function') throw new Error(`no method ${msg.method}`);
      return (fn as (...a: unknown[]) => unknown).apply(object, msg.args);
    });
  });
}

main();
