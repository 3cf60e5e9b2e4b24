import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { bootstrapKey, sleep, spawnParley } from '../helpers/processes.js';

/**
 * A soak: a real `parley serve` (SQLite) under a steady mixed load (create, append, read, list,
 * search, delete) at PARLEY_SOAK_RATE requests per second (default 150) for PARLEY_SOAK_SECONDS
 * (default 300), sampling every 10 s its resident memory and open descriptors (from /proc) and its
 * heap and event-loop delay p99 (from /metrics). No growth trend: the last minute's median stays
 * under 1.5× the second minute's plus a fixed slack.
 */
const SECONDS = Number(process.env.PARLEY_SOAK_SECONDS ?? 300);
/**
 * The load is paced: at most this many requests per second across the clients (a client that falls
 * behind the schedule sends at once). A steady rate makes the minutes comparable, and leaves the
 * machine to the suites CI runs beside the soak.
 */
const RATE = Number(process.env.PARLEY_SOAK_RATE ?? 150);
const SAMPLE_MS = 10_000;

interface Sample {
  t: number;
  rssMb: number;
  fds: number;
  heapMb: number;
  loopP99Ms: number;
  requests: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

test(`soak: ${SECONDS} s of steady mixed load, no growth in memory, descriptors or event-loop delay`, {
  timeout: (SECONDS + 120) * 1000,
}, async () => {
  assert.ok(SECONDS >= 180, 'a soak needs at least 3 minutes to compare its second and last minutes');
  assert.ok(RATE > 0, 'PARLEY_SOAK_RATE is a rate in requests per second');
  const proc = await spawnParley({ PARLEY_RATE_LIMIT: '10000000', PARLEY_LOG_LEVEL: 'warn' });
  try {
    const pid = proc.child.pid as number;
    const admin = bootstrapKey(proc.output());
    const h = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    let requests = 0;
    const statuses = new Map<number, number>();
    let slot = Date.now();
    const call = async (method: string, p: string, body?: unknown) => {
      const at = slot;
      slot = Math.max(slot, Date.now()) + 1000 / RATE;
      if (at > Date.now()) await sleep(at - Date.now());
      const res = await fetch(proc.url + p, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      requests++;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    let stop = false;
    const worker = async (w: number) => {
      let i = 0;
      while (!stop) {
        i++;
        const c = await call('POST', '/v1/conversations', {
          title: `soak ${w} ${i}`,
          user_id: `u${i % 7}`,
          messages: [{ role: 'user', content: `hello soak word${i % 50}` }],
        });
        const id = c.body?.data?.id as string;
        for (let m = 0; m < 3; m++) {
          await call('POST', `/v1/conversations/${id}/messages`, { role: 'assistant', content: `reply ${m} word${m}` });
        }
        await call('GET', `/v1/conversations/${id}`);
        await call('GET', `/v1/conversations/${id}/messages`);
        await call('GET', '/v1/conversations?limit=20');
        await call('GET', `/v1/conversations?search=word${i % 50}&limit=5`);
        // half are deleted again, so the database grows slowly and deletes stay in the mix
        if (i % 2 === 0) await call('DELETE', `/v1/conversations/${id}`);
        await sleep(20);
      }
    };
    const metric = (text: string, name: string) => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
      return m ? Number(m[1]) : Number.NaN;
    };
    const samples: Sample[] = [];
    const started = Date.now();
    const workers = [0, 1, 2, 3].map(worker);
    while (Date.now() - started < SECONDS * 1000) {
      await sleep(SAMPLE_MS);
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
      const fds = readdirSync(`/proc/${pid}/fd`).length;
      const metrics = await (await fetch(`${proc.url}/metrics`)).text();
      const s: Sample = {
        t: Math.round((Date.now() - started) / 1000),
        rssMb: Math.round(rssKb / 102.4) / 10,
        fds,
        heapMb: Math.round(metric(metrics, 'parley_nodejs_heap_size_used_bytes') / 104857.6) / 10,
        loopP99Ms: Math.round(metric(metrics, 'parley_nodejs_eventloop_lag_p99_seconds') * 10000) / 10,
        requests,
      };
      samples.push(s);
      console.log(`# soak ${JSON.stringify(s)}`);
    }
    stop = true;
    await Promise.all(workers);
    const fives = [...statuses.keys()].filter((s) => s >= 500);
    assert.deepEqual(fives, [], `no 5xx: ${JSON.stringify([...statuses])}`);
    const window = (fromS: number, toS: number) => samples.filter((s) => s.t > fromS && s.t <= toS);
    const second = window(60, 120);
    const last = window(SECONDS - 60, SECONDS + 30);
    assert.ok(second.length >= 4 && last.length >= 4, 'samples in the second and the last minute');
    const bounds: Array<[keyof Sample, number]> = [
      ['rssMb', 64],
      ['heapMb', 32],
      ['fds', 20],
      ['loopP99Ms', 50],
    ];
    const summary: Record<string, string> = {};
    for (const [k, slack] of bounds) {
      const a = median(second.map((s) => s[k]));
      const b = median(last.map((s) => s[k]));
      summary[k] = `${a} → ${b}`;
      assert.ok(
        b <= a * 1.5 + slack,
        `${k}: last minute's median ${b} vs second minute's ${a} (bound 1.5× + ${slack})`,
      );
    }
    console.log(
      `# soak: ${requests} requests in ${SECONDS} s (${Math.round(requests / SECONDS)}/s of ${RATE}/s asked); second minute → last minute medians ${JSON.stringify(summary)}`,
    );
  } finally {
    await proc.stop();
  }
});
