import { Worker } from 'node:worker_threads';
import type { Store } from '../store/types.js';
import { openBulkLoader } from './bulk-load.js';
import { type SeedConversation, SeedGenerator, type SeedOptions } from './generator.js';

export interface SeedReport {
  workspaces: number;
  conversations: number;
  messages: number;
  toolInvocations: number;
  seconds: number;
  largestWorkspace: { id: string; conversations: number };
}

/** Fills the store with generated data in batches of about `batchMessages` messages. */
export async function seedData(
  store: Store,
  opts: SeedOptions,
  {
    batchMessages = 10_000,
    generatorThreads = 2,
    onProgress,
  }: {
    batchMessages?: number;
    generatorThreads?: number;
    /** Called with the messages written so far and the planned total, a few times a second. */
    onProgress?: (messages: number, plannedMessages: number) => void;
  } = {},
): Promise<SeedReport> {
  const started = performance.now();
  const writer = await openBulkLoader(store);
  const totals = { conversations: 0, messages: 0, tools: 0 };
  const plan = new SeedGenerator(opts);
  const createdAt = opts.now - 200 * 86_400_000;
  // batches are written one after another in arrival order (the PostgreSQL writer is async)
  let queue: Promise<void> = Promise.resolve();
  let lastReport = 0;
  // generation runs on worker threads (each chunk has its own random stream, so the data does
  // not depend on how many), writing here: generating and writing overlap
  let workers: Worker[] = [];
  try {
    await writer.workspaces(plan.workspaceIds.map((id, i) => ({ id, name: `seed workspace ${i + 1}`, createdAt })));
    workers = Array.from(
      { length: generatorThreads },
      (_, worker) =>
        new Worker(new URL('./gen-worker-entry.mjs', import.meta.url), {
          workerData: { opts, batchMessages, worker, workers: generatorThreads },
        }),
    );
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            worker.on('error', reject);
            worker.on('exit', (code) => reject(new Error(`generator exited early with ${code}`)));
            worker.on('message', (m: { kind: string; batch?: SeedConversation[] }) => {
              try {
                if (m.kind === 'done') resolve();
                else if (m.kind === 'batch' && m.batch) {
                  const batch = m.batch;
                  queue = queue.then(async () => {
                    totals.messages += await writer.write(batch);
                    totals.conversations += batch.length;
                    for (const c of batch) totals.tools += c.tools.length;
                    worker.postMessage('more');
                    const now = performance.now();
                    if (onProgress && now - lastReport > 250) {
                      onProgress(totals.messages, opts.messages);
                      lastReport = now;
                    }
                  });
                  queue.catch(reject);
                }
              } catch (err) {
                reject(err);
              }
            });
          }),
      ),
    );
    await queue;
  } finally {
    for (const w of workers) {
      w.removeAllListeners('exit');
      await w.terminate();
    }
    await queue.catch(() => undefined);
    await writer.finish();
  }
  return {
    conversations: totals.conversations,
    messages: totals.messages,
    toolInvocations: totals.tools,
    seconds: (performance.now() - started) / 1000,
    largestWorkspace: { id: plan.workspaceIds[0] ?? '', conversations: plan.plan[0] ?? 0 },
    workspaces: plan.workspaceIds.length,
  };
}
