import type { App, AppDeps } from '../types.js';

/**
 * Requests in flight, and per (method, route, status) a count and a duration. Requests answered
 * before this hook runs (CORS preflights) are not counted in; an upgraded socket counts itself out.
 * Both hooks also mark the request traffic erase batches rest by (services/traffic.ts).
 */
export function registerMetrics(app: App, deps: Pick<AppDeps, 'metrics' | 'traffic'>): void {
  const traffic = deps.traffic;
  app.addHook('onRequest', (_req, _reply, done) => {
    deps.metrics.inflight.inc();
    traffic?.touch();
    done();
  });

  // Label children looked up once per (method, route, status): prom-client would otherwise hash
  // the label object on every observation. Routes and statuses form a small closed set.
  const counted = new Map<string, { inc(): void }>();
  const timed = new Map<string, { observe(v: number): void }>();
  app.addHook('onResponse', (req, reply, done) => {
    deps.metrics.inflight.dec();
    traffic?.touch();
    const method = req.method;
    const route = req.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const routeKey = `${method} ${route}`;
    const countKey = `${routeKey} ${status}`;
    let counter = counted.get(countKey);
    if (counter === undefined) {
      counter = deps.metrics.requests.labels({ method, route, status: String(status) });
      counted.set(countKey, counter);
    }
    counter.inc();
    let timer = timed.get(routeKey);
    if (timer === undefined) {
      timer = deps.metrics.duration.labels({ method, route });
      timed.set(routeKey, timer);
    }
    timer.observe(reply.elapsedTime / 1000);
    done();
  });
}
