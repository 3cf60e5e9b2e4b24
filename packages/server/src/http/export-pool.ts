import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ERROR_CATALOG, type ErrorCode, ParleyError } from '../errors.js';
import { workerEntry } from '../paths.js';
import type { ExportCounts, OpenedExport } from '../services/export.js';
import { type ExportFormat, writerFor } from './export-formats.js';
import type { FromWorker, OpenStream, ToWorker, WorkerError } from './export-worker.js';

/** Batches read ahead per export (each at most a read of rows, `TransferReader.pages`, or one page of a big conversation): what one export holds at once. */
const WINDOW = 4;
/** Workers with nothing to do for this long are stopped (their memory goes back); the next export starts them again. */
const IDLE_MS = 60_000;

export interface ExportPoolSettings {
  /** The SQLite file the workers open read-only. */
  file: string;
  /** Worker threads (at least 1). */
  workers: number;
  /** V8's young generation of each worker, MB (resourceLimits.maxYoungGenerationSizeMb); undefined: V8's default. */
  youngGenerationMb?: number | undefined;
  logger: Logger;
}

interface Chunk {
  bytes: Uint8Array;
  counts: ExportCounts;
  done: boolean;
}

/** The error a worker reported, back in this thread: a ParleyError keeps its code (and so its status). */
function fromWorkerError(e: WorkerError): Error {
  const err =
    e.code !== null && e.code in ERROR_CATALOG
      ? new ParleyError(e.code as ErrorCode, e.message)
      : new Error(`export worker: ${e.message}`);
  if (e.stack) err.stack = e.stack;
  return err;
}

class ExportWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  private readonly waiting = new Map<number, { resolve: (c: Chunk) => void; reject: (e: Error) => void }>();
  /** Streams open on this worker (batches of exports in flight). */
  streams = 0;
  dead: Error | null = null;

  constructor(settings: ExportPoolSettings, onExit: (w: ExportWorker) => void) {
    const resourceLimits =
      settings.youngGenerationMb === undefined ? undefined : { maxYoungGenerationSizeMb: settings.youngGenerationMb };
    const entry = workerEntry('export');
    this.worker = new Worker(entry.url, {
      workerData: { role: 'parley-export', file: settings.file },
      execArgv: entry.execArgv,
      resourceLimits,
      stdout: false,
      stderr: false,
    });
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.once('message', (m: FromWorker) =>
        m.type === 'ready' ? resolve() : reject(new Error('export worker: no ready')),
      );
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`export worker exited (${code}) before it was ready`)));
    });
    this.ready.catch(() => undefined);
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') return;
      const w = this.waiting.get(m.id);
      if (w === undefined) return; // a stream dropped meanwhile
      this.waiting.delete(m.id);
      if (m.type === 'failed') w.reject(fromWorkerError(m.error));
      else w.resolve({ bytes: m.bytes, counts: m.counts, done: m.done });
    });
    this.worker.on('error', (err) => {
      this.dead ??= err;
    });
    this.worker.on('exit', (code) => {
      this.dead ??= new Error(`export worker exited (${code})`);
      for (const w of this.waiting.values()) w.reject(this.dead);
      this.waiting.clear();
      onExit(this);
    });
  }

  pull(id: number, open?: OpenStream): Promise<Chunk> {
    if (this.dead) return Promise.reject(this.dead);
    const p = new Promise<Chunk>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    const msg: ToWorker = open === undefined ? { type: 'pull', id } : { type: 'pull', id, open };
    this.worker.postMessage(msg);
    return p;
  }

  drop(id: number): void {
    this.waiting.delete(id);
    const msg: ToWorker = { type: 'drop', id };
    if (!this.dead) this.worker.postMessage(msg);
  }
}

/**
 * Worker threads that read and render exports of a SQLite database beside the main thread (see
 * export-worker.ts). Started on the first export, stopped after IDLE_MS without one. An export
 * runs its batches on several workers at once and writes them in order.
 */
export class ExportPool {
  private workers: ExportWorker[] = [];
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly settings: ExportPoolSettings) {}

  /**
   * The workers, started if they are not: resolves once each answers, rejects when they cannot
   * start (the caller exports in-process instead).
   */
  async start(): Promise<void> {
    if (this.closed) throw new Error('the export pool is closed');
    this.touch();
    while (this.workers.length < this.settings.workers) {
      this.workers.push(new ExportWorker(this.settings, (w) => this.forget(w)));
    }
    const workers = [...this.workers];
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (err) {
      for (const w of workers) this.stopWorker(w);
      throw err;
    }
  }

  private forget(w: ExportWorker): void {
    this.workers = this.workers.filter((x) => x !== w);
  }

  private stopWorker(w: ExportWorker): void {
    this.forget(w);
    void w.worker.terminate();
  }

  /** Pushes the idle stop back: called whenever an export uses the pool. */
  private touch(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.workers.some((w) => w.streams > 0)) {
        this.touch();
        return;
      }
      for (const w of [...this.workers]) this.stopWorker(w);
    }, IDLE_MS);
    this.idleTimer.unref();
  }

  private pick(): ExportWorker {
    let best: ExportWorker | undefined;
    for (const w of this.workers) if (!w.dead && (best === undefined || w.streams < best.streams)) best = w;
    if (best === undefined) throw new ParleyError('service_unavailable', 'The export workers stopped; retry shortly');
    return best;
  }

  /**
   * The export's bytes, in order, read and rendered by the workers: up to WINDOW batches in flight,
   * each pulled again only when it is the one being written. Audited as an in-process export is
   * (opened.record), also when the client goes away or a worker fails; a failure cuts the stream.
   */
  async *render(
    opened: OpenedExport,
    format: ExportFormat,
    exportedAt: string,
    /** JSONL lines written by the database (ExportOptions.lines). */
    lines: boolean,
  ): AsyncGenerator<Buffer, void, undefined> {
    const writer = writerFor(format);
    const counts: ExportCounts = { conversations: 0, messages: 0, tool_invocations: 0 };
    const inFlight: Array<{ worker: ExportWorker; id: number; chunk: Promise<Chunk> }> = [];
    const batches = opened.batches();
    let more = true;
    let conversationsBefore = 0;
    let complete = false;
    let failed: unknown;
    const open = (o: Omit<OpenStream, 'workspaceId' | 'format' | 'interleave' | 'lines'>) => {
      const worker = this.pick();
      const id = this.nextId++;
      worker.streams++;
      const chunk = worker.pull(id, {
        workspaceId: opened.workspaceId,
        format,
        interleave: writer.interleave,
        lines,
        ...o,
      });
      chunk.catch(() => undefined); // awaited in turn below
      inFlight.push({ worker, id, chunk });
    };
    try {
      yield Buffer.from(writer.begin(exportedAt), 'utf8');
      for (;;) {
        while (more && inFlight.length < WINDOW) {
          const next = await batches.next();
          if (next.done === true) {
            more = false;
            break;
          }
          this.touch();
          open({ conversationsBefore, batch: next.value });
          conversationsBefore += next.value.conversations.length;
        }
        const head = inFlight[0];
        if (head === undefined) break;
        const c = await head.chunk;
        counts.conversations += c.counts.conversations;
        counts.messages += c.counts.messages;
        counts.tool_invocations += c.counts.tool_invocations;
        if (c.done) {
          inFlight.shift();
          head.worker.streams--;
        } else {
          head.chunk = head.worker.pull(head.id);
          head.chunk.catch(() => undefined);
        }
        if (c.bytes.length > 0) yield Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.length);
      }
      complete = true;
      yield Buffer.from(writer.end({ ...counts }), 'utf8');
    } catch (err) {
      failed = err;
      throw err;
    } finally {
      for (const s of inFlight) {
        s.worker.streams--;
        s.worker.drop(s.id);
      }
      await batches.return(undefined);
      await opened.record(counts, complete, failed);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers = [];
  }
}
