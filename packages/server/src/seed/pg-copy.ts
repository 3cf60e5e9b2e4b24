import type pg from 'pg';
import type { Column, Value } from './rows.js';

/**
 * `COPY … FROM STDIN` through pg's own protocol hooks: a query object pg runs like any other
 * (it queues behind the client's earlier queries) that answers the server's CopyInResponse with
 * the data, then CopyDone. Text format: tab-separated columns, `\N` for NULL, and backslash,
 * tab, newline and carriage return escaped.
 */
class CopyIn {
  /** Read by pg as the per-query client-side timeout (a load's COPY may take longer than a request). */
  readonly query_timeout: number;
  callback?: (err: Error | null, res?: { rowCount: number }) => void;
  private rowCount = 0;
  private done = false;

  constructor(
    readonly text: string,
    private readonly chunks: Buffer[],
    timeoutMs: number,
  ) {
    this.query_timeout = timeoutMs;
  }

  submit(connection: { query(text: string): void }): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: { sendCopyFromChunk(b: Buffer): void; endCopyFrom(): void }): void {
    for (const chunk of this.chunks) connection.sendCopyFromChunk(chunk);
    connection.endCopyFrom();
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.rowCount = Number(/(\d+)$/.exec(msg.text ?? '')?.[1] ?? 0);
  }

  handleError(err: Error): void {
    this.finish(err);
  }

  handleReadyForQuery(): void {
    this.finish(null);
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  private finish(err: Error | null): void {
    if (this.done) return;
    this.done = true;
    this.callback?.(err, { rowCount: this.rowCount });
  }
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPE = /[\\\t\n\r]/g;
const ESCAPED: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function field(v: Value): string {
  if (v === null) return '\\N';
  if (typeof v === 'number') return String(v);
  return NEEDS_ESCAPE.test(v) ? v.replace(ESCAPE, (c) => ESCAPED[c] as string) : v;
}

/** About this many bytes of COPY data per protocol message. */
const CHUNK_CHARS = 1 << 20;

/** Writes `rows` into `table` with one COPY; resolves with the number of rows the server took. */
export async function copyRows<R>(
  client: pg.PoolClient,
  table: string,
  columns: ReadonlyArray<Column<R>>,
  rows: readonly R[],
  timeoutMs: number,
): Promise<number> {
  if (rows.length === 0) return 0;
  const chunks: Buffer[] = [];
  let text = '';
  for (const row of rows) {
    let line = '';
    for (let i = 0; i < columns.length; i++) {
      if (i > 0) line += '\t';
      line += field((columns[i] as Column<R>).of(row));
    }
    text += `${line}\n`;
    if (text.length >= CHUNK_CHARS) {
      chunks.push(Buffer.from(text, 'utf8'));
      text = '';
    }
  }
  if (text.length > 0) chunks.push(Buffer.from(text, 'utf8'));
  const copy = new CopyIn(`COPY ${table} (${columns.map((c) => c.name).join(', ')}) FROM STDIN`, chunks, timeoutMs);
  const res = await new Promise<{ rowCount: number }>((resolve, reject) => {
    copy.callback = (err, r) => (err ? reject(err) : resolve(r ?? { rowCount: 0 }));
    (client as unknown as { query(q: CopyIn): void }).query(copy);
  });
  if (res.rowCount !== rows.length) throw new Error(`COPY ${table}: ${res.rowCount} of ${rows.length} rows written`);
  return res.rowCount;
}
