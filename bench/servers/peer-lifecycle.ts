/**
 * The lifecycle scenarios' peer, SQLite or PostgreSQL (bench/lib/lifecycle-ops.ts):
 * - bare node:http answering GET /v1/export?format=jsonl behind API-key auth (SHA-256 of the bearer
 *   token), streaming the key's workspace as JSONL with backpressure;
 * - on an IPC `bulk-delete` message, deletes the given conversations by bare SQL and answers
 *   `bulk-delete-done` with the time it took.
 * One process, pinned to the server core like Parley.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { bulkDeleteBare, exportBare } from '../lib/lifecycle-ops.js';
import { type Db, openDb } from '../lib/scale-ops.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as { databaseUrl: string };
const db: Db = openDb(opts.databaseUrl);
// as Parley's connection: freed content zeroed (the full-text option is stored in the database)
if (db.engine === 'sqlite') await db.all('PRAGMA secure_delete = ON', []);

async function workspaceOf(req: http.IncomingMessage): Promise<string | null> {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || !h.startsWith('Bearer ')) return null;
  const hash = createHash('sha256').update(h.slice(7).trim()).digest('hex');
  const key = (await db.all('SELECT workspace_id, revoked_at FROM api_keys WHERE key_hash = ?', [hash]))[0];
  return key && key.revoked_at === null ? (key.workspace_id as string) : null;
}

const server = http.createServer((req, res) => {
  (async () => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' || url.pathname !== '/v1/export') {
      res.writeHead(404).end();
      return;
    }
    const ws = await workspaceOf(req);
    if (!ws) {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
    await exportBare(db, ws, (text) =>
      res.write(text) ? Promise.resolve() : new Promise<void>((resolve) => res.once('drain', () => resolve())),
    );
    res.end();
  })().catch((err: Error) => {
    if (!res.headersSent) res.writeHead(500);
    res.destroy(err);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` });
});

process.on('message', async (m: { type?: string; ws?: string; ids?: string[]; chunk?: number }) => {
  if (m.type === 'stop') {
    server.close();
    await db.close();
    process.exit(0);
  }
  if (m.type === 'bulk-delete') {
    try {
      const t0 = performance.now();
      const messages = await bulkDeleteBare(db, m.ws as string, m.ids ?? [], m.chunk);
      process.send?.({ type: 'bulk-delete-done', ms: performance.now() - t0, messages });
    } catch (err) {
      process.send?.({ type: 'error', message: (err as Error).stack ?? String(err) });
    }
  }
});
process.on('disconnect', () => process.exit(0));
