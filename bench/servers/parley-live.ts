/**
 * A Parley instance for the fan-out benchmark: createParley on a shared database and Redis,
 * forked with --expose-gc so `mem` can report memory after a full collection.
 * Reports {url, adminKey} over IPC; answers {type:'mem'} with process.memoryUsage().
 */
import os from 'node:os';
import { loadConfig } from '../../packages/server/src/config.js';
import { createLogger } from '../../packages/server/src/log.js';
import { createParley } from '../../packages/server/src/parley.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as { databaseUrl: string; redisUrl: string; bootstrap: boolean };
const config = loadConfig(
  {},
  {
    http: { host: '127.0.0.1', port: 0 },
    database: { dataDir: os.tmpdir(), url: opts.databaseUrl },
    redis: { url: opts.redisUrl },
    log: { level: 'silent' },
    lifecycle: { bootstrap: opts.bootstrap },
  },
);
const parley = await createParley(config, { logger: createLogger({ level: 'silent' }) });
const url = await parley.start();
process.send?.({ type: 'ready', url, adminKey: parley.bootstrapped?.key.secret ?? null });
process.on('message', async (m: { type?: string }) => {
  if (m.type === 'mem') {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    process.send?.({ type: 'mem', ...process.memoryUsage(), liveStreams: parley.realtime.liveHere });
  } else if (m.type === 'stop') {
    await parley.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
