import { Worker } from 'node:worker_threads';
import { workerEntry } from '../paths.js';
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

export interface GenerateOptions {
  /** Messages per batch, about. */
  batchMessages?: number;
  /** Worker threads generating (and analyzing for search) while the caller writes. */
  generatorThreads?: number;
}

/**
 * Generates the data set on worker threads (each chunk has its own random stream, so the data
 * does not depend on how many) and hands the batches to `write` one after another, in arrival
 * order: generating overlaps writing, and a generator waits when it is a few batches ahead.
 */
export async function generateBatches(
  opts: SeedOptions,
  { batchMessages = 10_000, generatorThreads = 2 }: GenerateOptions,
  write: (batch: SeedConversation[]) => Promise<void>,
): Promise<void> {
  let queue: Promise<void> = Promise.resolve();
  const workers = Array.from({ length: generatorThreads }, (_, worker) => {
    const entry = workerEntry('seed');
    return new Worker(entry.url, {
      workerData: { opts, batchMessages, worker, workers: generatorThreads },
      execArgv: entry.execArgv,
    });
  });
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            worker.on('error', reject);
            worker.on('exit', (code) => reject(new Error(`generator exited early with ${code}`)));
            worker.on('message', (m: { kind: string; batch?: SeedConversation[] }) => {
              if (m.kind === 'done') resolve();
              else if (m.kind === 'batch' && m.batch) {
                const batch = m.batch;
                queue = queue.then(async () => {
                  await write(batch);
                  worker.postMessage('more');
                });
                queue.catch(reject);
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
  }
}

/** Fills the store with generated data through the bulk loader, in batches of about `batchMessages` messages. */
export async function seedData(
  store: Store,
  opts: SeedOptions,
  {
    onProgress,
    ...gen
  }: GenerateOptions & {
    /** Called with the messages written so far and the planned total, a few times a second. */
    onProgress?: (messages: number, plannedMessages: number) => void;
  } = {},
): Promise<SeedReport> {
  const started = performance.now();
  const loader = await openBulkLoader(store);
  const totals = { conversations: 0, messages: 0, tools: 0 };
  const plan = new SeedGenerator(opts);
  const createdAt = opts.now - 200 * 86_400_000;
  let lastReport = 0;
  try {
    await loader.workspaces(plan.workspaceIds.map((id, i) => ({ id, name: `seed workspace ${i + 1}`, createdAt })));
    await generateBatches(opts, gen, async (batch) => {
      totals.messages += await loader.write(batch);
      totals.conversations += batch.length;
      for (const c of batch) totals.tools += c.tools.length;
      const now = performance.now();
      if (onProgress && now - lastReport > 250) {
        onProgress(totals.messages, opts.messages);
        lastReport = now;
      }
    });
  } finally {
    await loader.finish();
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
