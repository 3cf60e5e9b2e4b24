import { fanoutScenario } from './fanout.js';
import type { ScenarioDef } from './types.js';

/** Deterministic sample of ids so every target sees the same request sequence. */
function sample<T>(items: T[], count: number): T[] {
  const out: T[] = [];
  let x = 12345;
  for (let i = 0; i < Math.min(count, items.length * 4); i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.push(items[x % items.length] as T);
  }
  return out;
}

/** Scenario registry: append here (search, deep pages, deletes, appends) and run with --scenario. */
export const SCENARIOS: ScenarioDef[] = [
  {
    name: 'get',
    description: 'GET /v1/conversations/{id}: the conversation and its 200 most recent messages, ids rotating',
    requests: (ds) =>
      sample(ds.conversationIds, 4096).map((id) => ({ method: 'GET', path: `/v1/conversations/${id}` })),
    targets: { 'node-http': 0.85 },
  },
  {
    name: 'list',
    description: 'GET /v1/conversations: first 25-row page by updated_at desc, meta.total from counters',
    requests: () => [{ method: 'GET', path: '/v1/conversations' }],
    targets: { 'node-http': 0.8 },
  },
  fanoutScenario,
];
