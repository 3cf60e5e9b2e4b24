import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Read at scrape time: live streams on this instance, and whether presence can be read (1/0). */
export interface MetricsSources {
  liveStreams?: () => number;
  presenceUp?: () => Promise<number>;
}

/** One registry per Parley instance, so several can live in one process (tests, benchmarks). */
export function createMetrics(sources: MetricsSources = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  return {
    registry,
    requests: new Counter({
      name: 'parley_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'parley_http_request_duration_seconds',
      help: 'HTTP request duration by method and route',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    inflight: new Gauge({
      name: 'parley_http_requests_in_flight',
      help: 'Requests being served',
      registers: [registry],
    }),
    sharedState: new Gauge({
      name: 'parley_shared_state_up',
      help: '1 when shared state (Redis) is in use, 0 when the per-instance fallback is',
      registers: [registry],
    }),
    liveStreams: new Gauge({
      name: 'parley_live_streams',
      help: 'Live streams (WebSocket and SSE) open on this instance',
      registers: [registry],
      collect() {
        if (sources.liveStreams) this.set(sources.liveStreams());
      },
    }),
    groupCommitSize: new Histogram({
      name: 'parley_group_commit_size',
      help: 'Writes committed together in one transaction (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    compactionSlices: new Counter({
      name: 'parley_fts_compaction_slices_total',
      help: 'SQLite full-text compaction: merge slices run (each one short write transaction)',
      registers: [registry],
    }),
    compactionSeconds: new Counter({
      name: 'parley_fts_compaction_seconds_total',
      help: 'SQLite full-text compaction: time its slices held the writer',
      registers: [registry],
    }),
    compactionRuns: new Counter({
      name: 'parley_fts_compaction_runs_total',
      help: 'SQLite full-text compaction: runs by outcome (done: no tombstone left; failed)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    compactionActive: new Gauge({
      name: 'parley_fts_compaction_active',
      help: "SQLite full-text compaction: 1 while a run is under way (deleted rows' postings still in the index)",
      registers: [registry],
    }),
    presenceUp: new Gauge({
      name: 'parley_presence_up',
      help: '1 when live-connection presence can be read (in memory, or Redis answering), 0 when DELETE would answer 503',
      registers: [registry],
      async collect() {
        if (sources.presenceUp) this.set(await sources.presenceUp());
      },
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
