import type { Client } from './harness.js';
import { sleep } from './processes.js';

/** Polls GET /v1/jobs/{id} until the job has finished (succeeded or failed); returns it. */
export async function waitForJob(client: Client, id: string, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await client.get(`/v1/jobs/${id}`);
    if (r.status !== 200) throw new Error(`GET job ${id}: ${r.status} ${r.text}`);
    const job = r.body.data;
    if (job.state === 'succeeded' || job.state === 'failed') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.state}: ${r.text}`);
    await sleep(50);
  }
}
