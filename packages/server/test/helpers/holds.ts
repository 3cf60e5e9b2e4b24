import assert from 'node:assert/strict';
import type { TestWorkspace } from './harness.js';

/** Places an active legal hold through the holds API (`POST /v1/holds`); its id. */
export async function placeHold(
  ws: TestWorkspace,
  targetType: 'conversation' | 'user' | 'contact_id' | 'deal_id' | 'matter_id',
  value: string,
): Promise<string> {
  const r = await ws.admin.post('/v1/holds', { target_type: targetType, target_value: value, reason: 'test' });
  assert.equal(r.status, 201, r.text);
  return r.body.data.id as string;
}

/** Releases a hold (`POST /v1/holds/{id}/release`). */
export async function releaseHold(ws: TestWorkspace, id: string): Promise<void> {
  const r = await ws.admin.post(`/v1/holds/${id}/release`, {});
  assert.equal(r.status, 200, r.text);
}
