/**
 * An export worker (a worker_thread started by ExportPool): reads the rows of export batches from
 * a read-only connection of its own to the SQLite file and turns them into the format's bytes,
 * which it hands back to the main thread (transferred, not copied). The main thread reads the
 * conversation pages, keeps the order, writes the response and audits; the heavy part (stepping
 * the rows, decoding, JSON, UTF-8) runs here, beside it.
 *
 * One stream per batch: `pull` (with `open` the first time) answers the text of the batch's next
 * read (a batch of small conversations: all of it; a big conversation: one page of a read's
 * rows); `drop` forgets a stream the main thread no longer wants (the client went away).
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { ParleyError } from '../errors.js';
import { type ExportBatch, type ExportCounts, type ExportItem, readBatch } from '../services/export.js';
import { transferStore } from '../services/transfer-store.js';
import { openSqliteReadOnly } from '../store/sqlite/read-only.js';
import { ChunkBuffer, type ExportFormat, type FormatWriter, writeItems, writerFor } from './export-formats.js';

export interface OpenStream {
  workspaceId: string;
  format: ExportFormat;
  interleave: boolean;
  /** JSONL lines written by the database (ExportOptions.lines). */
  lines: boolean;
  /** Conversations written before this batch's first (the JSON writer's separator). */
  conversationsBefore: number;
  batch: ExportBatch;
}

export type ToWorker = { type: 'pull'; id: number; open?: OpenStream } | { type: 'drop'; id: number };

export type FromWorker =
  | { type: 'ready' }
  | {
      type: 'chunk';
      id: number;
      /** The text of this step (may be empty), in an ArrayBuffer of its own (transferred). */
      bytes: Uint8Array;
      /** Records this step added. */
      counts: ExportCounts;
      /** The stream has no more steps. */
      done: boolean;
    }
  | { type: 'failed'; id: number; error: WorkerError };

/** An error as it crosses the thread boundary: a ParleyError keeps its code. */
export interface WorkerError {
  code: string | null;
  message: string;
  stack?: string | undefined;
}

interface Stream {
  steps: AsyncGenerator<ExportItem[], void, undefined>;
  writer: FormatWriter;
  counts: ExportCounts;
  /** The step read ahead (to answer `done` with the last one), or none yet. */
  ahead: IteratorResult<ExportItem[], void> | null;
}

export function toWorkerError(err: unknown): WorkerError {
  if (err instanceof ParleyError) return { code: err.code, message: err.message, stack: err.stack };
  if (err instanceof Error) return { code: null, message: err.message, stack: err.stack };
  return { code: null, message: String(err) };
}

function serve(file: string): void {
  if (parentPort === null) throw new Error('export-worker.ts runs as a worker thread');
  const port: MessagePort = parentPort;
  const store = openSqliteReadOnly(file);
  const transfer = transferStore(store);
  const streams = new Map<number, Stream>();

  async function step(id: number, open: OpenStream | undefined): Promise<void> {
    let s = streams.get(id);
    if (s === undefined) {
      if (open === undefined) throw new Error(`export worker: no stream ${id}`);
      const counts: ExportCounts = { conversations: 0, messages: 0, tool_invocations: 0 };
      const reader = transfer.reader(open.workspaceId);
      const steps = readBatch(reader, open.batch, { interleave: open.interleave, lines: open.lines }, counts);
      s = { steps, writer: writerFor(open.format, open.conversationsBefore), counts, ahead: null };
      streams.set(id, s);
    }
    const before = { ...s.counts };
    const got = s.ahead ?? (await s.steps.next());
    const out = new ChunkBuffer();
    const pieces: Buffer[] = [];
    if (got.done !== true) for (const piece of writeItems(got.value, s.writer, out)) pieces.push(piece);
    out.cut();
    pieces.push(...out.ready.splice(0));
    // one step ahead, so that the last one says so (a batch of small conversations: no read)
    s.ahead = got.done === true ? got : await s.steps.next();
    const done = s.ahead.done === true;
    if (done) streams.delete(id);
    let size = 0;
    for (const p of pieces) size += p.length;
    // an ArrayBuffer of its own, handed over whole (a small Buffer may share Node's pool)
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const p of pieces) {
      bytes.set(p, at);
      at += p.length;
    }
    const counts: ExportCounts = {
      conversations: s.counts.conversations - before.conversations,
      messages: s.counts.messages - before.messages,
      tool_invocations: s.counts.tool_invocations - before.tool_invocations,
    };
    const msg: FromWorker = { type: 'chunk', id, bytes, counts, done };
    port.postMessage(msg, [bytes.buffer]);
  }

  port.on('message', (m: ToWorker) => {
    if (m.type === 'drop') {
      const s = streams.get(m.id);
      streams.delete(m.id);
      void s?.steps.return(undefined).catch(() => undefined);
      return;
    }
    step(m.id, m.open).catch((err: unknown) => {
      const s = streams.get(m.id);
      streams.delete(m.id);
      void s?.steps.return(undefined).catch(() => undefined);
      const msg: FromWorker = { type: 'failed', id: m.id, error: toWorkerError(err) };
      port.postMessage(msg);
    });
  });
  port.postMessage({ type: 'ready' } satisfies FromWorker);
}

if (parentPort !== null && (workerData as { role?: string } | null)?.role === 'parley-export') {
  serve((workerData as { file: string }).file);
}
