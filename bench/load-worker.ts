/**
 * The load generator, in its own process (pinned to its own core by the harness): C keep-alive
 * connections through an undici Pool, each connection a loop of one request at a time, for a
 * fixed duration or a fixed count. Every body is read in full. Latencies are per request.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { percentile } from './harness.js';

export interface RequestSpec {
  method: 'GET';
  path: string;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** First non-2xx status or error message seen, for diagnosis. */
  firstError: string | null;
  durationMs: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LoadJob {
  type: 'run';
  url: string;
  requests: RequestSpec[];
  headers: Record<string, string>;
  connections: number;
  durationMs: number;
  /** Stop after this many requests even if the duration has not passed (0: no cap). */
  maxRequests: number;
}

async function run(job: LoadJob): Promise<LoadResult> {
  const pool = new Pool(job.url, { connections: job.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let next = 0;
  const started = performance.now();
  const deadline = started + job.durationMs;
  const n = job.requests.length;
  async function loop(offset: number) {
    let i = offset;
    while (performance.now() < deadline && (job.maxRequests === 0 || next < job.maxRequests)) {
      next++;
      const spec = job.requests[i % n] as RequestSpec;
      i += job.connections;
      const t0 = performance.now();
      try {
        const res = await pool.request({ method: spec.method, path: spec.path, headers: job.headers });
        await res.body.arrayBuffer();
        if (res.statusCode >= 300) {
          errors++;
          firstError ??= `HTTP ${res.statusCode} on ${spec.path}`;
        }
      } catch (err) {
        errors++;
        firstError ??= String(err);
      }
      latencies.push(performance.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: job.connections }, (_, c) => loop(c * 7919)));
  const durationMs = performance.now() - started;
  await pool.close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: latencies.length,
    errors,
    firstError,
    durationMs,
    rps: (latencies.length / durationMs) * 1000,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
  };
}

process.on('message', (job: LoadJob) => {
  if (job.type !== 'run') return;
  run(job).then(
    (result) => process.send?.({ type: 'result', result }),
    (err) => process.send?.({ type: 'error', message: String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
