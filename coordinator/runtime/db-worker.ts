// Runs inside a worker thread: builds one object (the database) from a module
// export and answers method calls posted by db-pool.ts, one after another.
import { parentPort, workerData } from 'node:worker_threads';
import { z } from 'zod';

const setup = z.object({ module: z.string(), exportName: z.string(), args: z.array(z.unknown()) });
const call = z.object({ id: z.number(), method: z.string(), args: z.array(z.unknown()) });

type Target = Record<string, unknown>;

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('db-worker must run in a worker thread');
  const { module, exportName, args } = setup.parse(workerData);
  const factory = ((await import(module)) as Record<string, unknown>)[exportName];
  if (typeof factory !== 'function') throw new Error(`${module} has no function ${exportName}`);
  const target = (await factory(...args)) as Target;
  port.on('message', (raw: unknown) => {
    const parsed = call.safeParse(raw);
    if (!parsed.success) return;
    const { id, method, args: callArgs } = parsed.data;
    void (async () => {
      try {
        const fn = target[method];
        if (typeof fn !== 'function') throw new Error(`no method ${method}`);
        const value: unknown = await (fn as (...a: unknown[]) => unknown).apply(target, callArgs);
        port.postMessage({ id, ok: true, value });
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        port.postMessage({ id, ok: false, error: { name: e.name, message: e.message, code: (e as NodeJS.ErrnoException).code } });
      }
    })();
  });
  port.postMessage({ ready: true });
}

main().catch((error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  parentPort?.postMessage({ ready: false, error: { name: e.name, message: e.message } });
});
