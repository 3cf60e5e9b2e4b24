/**
 * The `fanout` scenario: two Parley processes (A, B) on one SQLite file sharing a Redis this
 * scenario starts itself. One message appended on A (POST) must reach S WebSocket subscribers
 * spread evenly over A and B; the delivery latency of each subscriber is measured from the moment
 * the POST is sent to the moment the subscriber's socket receives the event (client clock, one
 * process). Then N idle sockets are opened on A and A's memory after a full GC is compared with
 * before: (delta RSS, delta heap used) / N.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import {
  forkTs,
  median,
  nextMessage,
  percentile,
  type ReportSink,
  report,
  stop,
  type Verdict,
  verdict,
} from '../harness.js';
import { startRedis } from './redis.js';

export interface FanoutSettings {
  subscribers: number;
  messages: number;
  idleSockets: number;
}

export interface FanoutResult {
  settings: FanoutSettings;
  deliveries: number;
  p50: number;
  p99: number;
  max: number;
  postP50: number;
  rssPerSocketBytes: number;
  heapPerSocketBytes: number;
  liveStreamsOnA: number;
}

interface Server {
  child: ChildProcess;
  url: string;
  adminKey: string | null;
}

async function startServer(options: Record<string, unknown>): Promise<Server> {
  const child = forkTs('servers/parley-live.ts', [JSON.stringify(options)], { execArgv: ['--expose-gc'] });
  const m = await nextMessage<{ url: string; adminKey: string | null }>(child, 'ready');
  return { child, url: m.url, adminKey: m.adminKey };
}

const stopServer = (s: Server) => stop(s.child);

interface Frame {
  type: string;
  data: { content?: string };
}

async function api(
  url: string,
  key: string,
  method: string,
  p: string,
  body?: unknown,
): Promise<{ data: Record<string, unknown> }> {
  const res = await fetch(url + p, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as { data: Record<string, unknown> };
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Opens a stream and resolves once it is attached; `onEvent` sees every event frame. */
function subscribe(base: string, id: string, key: string, onEvent?: (f: Frame) => void): Promise<WebSocket> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/conversations/${id}/stream`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return new Promise((resolve, reject) => {
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as Frame;
      if (f.type === 'stream.ready') resolve(ws);
      else onEvent?.(f);
    });
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`stream closed ${code} before ready`)));
  });
}

const mem = async (s: Server) => {
  const reply = nextMessage<{ rss: number; heapUsed: number; liveStreams: number }>(s.child, 'mem');
  s.child.send({ type: 'mem' });
  return reply;
};

export async function runFanout(settings: FanoutSettings): Promise<FanoutResult> {
  const redis = await startRedis();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-fanout-'));
  const databaseUrl = `sqlite:${path.join(dir, 'parley.db')}`;
  const servers: Server[] = [];
  const sockets: WebSocket[] = [];
  try {
    const a = await startServer({ databaseUrl, redisUrl: redis.url, bootstrap: true });
    servers.push(a);
    const b = await startServer({ databaseUrl, redisUrl: redis.url, bootstrap: false });
    servers.push(b);
    if (!a.adminKey) throw new Error('instance A did not bootstrap');
    const ws = await api(a.url, a.adminKey, 'POST', '/v1/workspaces', { name: 'bench-fanout' });
    const k = await api(a.url, ws.data.secret as string, 'POST', '/v1/keys', {
      name: 'fanout',
      scopes: ['read:ai', 'write:ai'],
      rate_limit: 10_000_000,
    });
    const key = k.data.secret as string;
    const conv = (await api(a.url, key, 'POST', '/v1/conversations', { title: 'fan-out' })).data.id as string;

    // subscribers alternate between A and B; each records when each marker arrives
    const arrivals = new Map<string, number[]>();
    for (let i = 0; i < settings.subscribers; i++) {
      const base = i % 2 === 0 ? a.url : b.url;
      sockets.push(
        await subscribe(base, conv, key, (f) => {
          if (f.type !== 'message.created' || f.data.content === undefined) return;
          const list = arrivals.get(f.data.content) ?? [];
          list.push(performance.now());
          arrivals.set(f.data.content, list);
        }),
      );
    }
    const latencies: number[] = [];
    const posts: number[] = [];
    for (let m = -3; m < settings.messages; m++) {
      const marker = `m${m}`;
      const t0 = performance.now();
      await api(a.url, key, 'POST', `/v1/conversations/${conv}/messages`, { role: 'user', content: marker });
      posts.push(performance.now() - t0);
      const deadline = Date.now() + 10_000;
      while ((arrivals.get(marker)?.length ?? 0) < settings.subscribers) {
        if (Date.now() > deadline)
          throw new Error(`${marker} reached ${arrivals.get(marker)?.length ?? 0} subscribers`);
        await new Promise((r) => setImmediate(r));
      }
      // the first three warm the path up (JIT, connections) and are not counted
      if (m >= 0) for (const t of arrivals.get(marker) ?? []) latencies.push(t - t0);
    }
    for (const s of sockets.splice(0)) s.close();
    await new Promise((r) => setTimeout(r, 500));

    // idle sockets: memory on A after a full GC, before and after
    const before = await mem(a);
    const idleConv = (await api(a.url, key, 'POST', '/v1/conversations', { title: 'idle' })).data.id as string;
    for (let i = 0; i < settings.idleSockets; i++) sockets.push(await subscribe(a.url, idleConv, key));
    const afterOpen = await mem(a);
    latencies.sort((x, y) => x - y);
    return {
      settings,
      deliveries: latencies.length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1] ?? Number.NaN,
      postP50: median(posts),
      rssPerSocketBytes: (afterOpen.rss - before.rss) / settings.idleSockets,
      heapPerSocketBytes: (afterOpen.heapUsed - before.heapUsed) / settings.idleSockets,
      liveStreamsOnA: afterOpen.liveStreams,
    };
  } finally {
    for (const s of sockets) s.terminate();
    await Promise.all(servers.map(stopServer));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the fan-out scenario (it starts its own servers and Redis) and reports it. */
export async function runFanoutScenario(quick: boolean, sink: ReportSink): Promise<Verdict[]> {
  const settings = quick
    ? { subscribers: 20, messages: 10, idleSockets: 100 }
    : { subscribers: 100, messages: 200, idleSockets: 1000 };
  const r = await runFanout(settings);
  const kib = (x: number) => (x / 1024).toFixed(1);
  const verdicts = [verdict('delivery p99', r.p99, ' ms', { op: '<=', value: 50 })];
  report(sink, {
    key: 'redis:fanout',
    title: 'redis / fanout',
    description: `one message appended on instance A (POST) reaches ${settings.subscribers} WebSocket subscribers, half on A and half on B (two Parley processes on one SQLite file, sharing a Redis the run starts); then ${settings.idleSockets} idle sockets on A`,
    facts: [
      `Latency from sending the POST to each socket receiving the event, ${settings.messages} messages one after another (3 warm-up messages not counted), ${r.deliveries} deliveries`,
      "Idle sockets: A's RSS and heap used after a full GC (--expose-gc), before and after, divided by the sockets; client and both servers share the machine (no pinning)",
    ],
    table: {
      head: [
        'delivery p50 ms',
        'delivery p99 ms',
        'max ms',
        'POST p50 ms',
        'RSS / idle socket KiB',
        'heap / idle socket KiB',
      ],
      rows: [[r.p50, r.p99, r.max, r.postP50, kib(r.rssPerSocketBytes), kib(r.heapPerSocketBytes)]],
    },
    verdicts,
    record: r,
  });
  return verdicts;
}
