import { parentPort, workerData } from 'node:worker_threads';
import { indexTokens } from '../store/search-terms.js';
import { type SeedConversation, SeedGenerator, type SeedOptions } from './generator.js';

/**
 * Generates conversations on a second core and posts them in batches, so generating and
 * writing overlap. Waits for an acknowledgement every few batches to bound memory.
 */
const { opts, batchMessages, worker, workers } = workerData as {
  opts: SeedOptions;
  batchMessages: number;
  worker: number;
  workers: number;
};
const port = parentPort;
if (!port) throw new Error('gen-worker must run as a worker thread');

let credits = 3;
let wake: (() => void) | null = null;
port.on('message', () => {
  credits++;
  wake?.();
});

const gen = new SeedGenerator(opts);
let batch: SeedConversation[] = [];
let size = 0;
const send = async () => {
  while (credits === 0) await new Promise<void>((r) => (wake = r));
  credits--;
  port.postMessage({ kind: 'batch', batch });
  batch = [];
  size = 0;
};
const chunks = gen.chunks();
for (let i = worker; i < chunks.length; i += workers) {
  const [w, first, count] = chunks[i] as [number, number, number];
  for (const c of gen.chunk(w, first, count)) {
    // analysis is the costly part of indexing: done here, in parallel; the writer only tags it
    c.titleTokens = indexTokens(c.title).join(' ');
    for (const m of c.messages) m.tokens = indexTokens(m.content).join(' ');
    batch.push(c);
    size += c.messages.length;
    if (size >= batchMessages) await send();
  }
}
if (batch.length > 0) await send();
port.postMessage({ kind: 'done' });
