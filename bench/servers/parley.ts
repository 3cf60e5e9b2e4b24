/**
 * Parley as the benchmark runs it: the real createParley over an existing database, bootstrap
 * off, logs either silent or at info into /dev/null (so the cost of producing them is measured).
 * Forked by the bench harness; reports its URL over IPC.
 */
import os from 'node:os';
import pino from 'pino';
import { loadConfig } from '../../packages/server/src/config.js';
import { createLogger } from '../../packages/server/src/log.js';
import { createParley } from '../../packages/server/src/parley.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as { databaseUrl: string; log: 'silent' | 'info-devnull' };
const logLevel = opts.log === 'silent' ? 'silent' : 'info';
// group commit's settings and SQLite's synchronous mode may be given to the run
// (PARLEY_GROUP_COMMIT_MAX_WRITES=1 measures it off)
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => k.startsWith('PARLEY_GROUP_COMMIT_') || k === 'PARLEY_SQLITE_SYNCHRONOUS',
  ),
);
const config = loadConfig(env, {
  http: { host: '127.0.0.1', port: 0 },
  database: { dataDir: os.tmpdir(), url: opts.databaseUrl },
  log: { level: logLevel },
  lifecycle: { bootstrap: false },
});
const logger =
  opts.log === 'silent'
    ? createLogger({ level: logLevel })
    : createLogger({ level: logLevel }, pino.destination('/dev/null'));
const parley = await createParley(config, { logger });
const url = await parley.start();
process.send?.({ type: 'ready', url });
process.on('message', async (m: { type?: string }) => {
  if (m.type === 'stop') {
    await parley.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
