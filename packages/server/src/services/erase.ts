import { setImmediate as yieldToOthers } from 'node:timers/promises';
import type { Conversation, Hold } from '../domain/types.js';
import { ParleyError } from '../errors.js';
import type { DeleteCounts, HeldCandidate } from '../store/types.js';
import type { UnitOfWork } from './unit-of-work.js';

export const DAY_MS = 86_400_000;

/**
 * How long one erase transaction may run before it commits and lets other writers in. SQLite
 * has one writer: a bulk delete or purge must never hold it for more than ~50 ms at a time.
 */
export const ERASE_BUDGET_MS = 25;

/** What a hold may cover on a conversation. */
export function holdCandidate(c: Conversation): HeldCandidate {
  return {
    id: c.id,
    userId: c.userId,
    contactId: typeof c.context.contact_id === 'string' ? c.context.contact_id : null,
    dealId: typeof c.context.deal_id === 'string' ? c.context.deal_id : null,
    matterId: typeof c.context.matter_id === 'string' ? c.context.matter_id : null,
  };
}

/** 409 legal_hold naming each held conversation and the hold that covers it. */
export function legalHoldError(held: Array<{ id: string; hold: Hold; index?: number }>): ParleyError {
  const message =
    held.length === 1
      ? 'An active legal hold covers this conversation; release the hold to delete it'
      : `${held.length} conversations are covered by an active legal hold; nothing was deleted`;
  return new ParleyError('legal_hold', message, {
    details: held.map((h) => ({
      field: h.index === undefined ? '/id' : `/body/ids/${h.index}`,
      message: `conversation ${h.id} is held by ${h.hold.id}`,
    })),
    extra: { held: held.map((h) => ({ id: h.id, hold_id: h.hold.id })) },
  });
}

export const emptyCounts = (): DeleteCounts => ({ messages: 0, tool_invocations: 0, search_entries: 0 });

export function addCounts(into: DeleteCounts, c: DeleteCounts): void {
  into.messages += c.messages;
  into.tool_invocations += c.tool_invocations;
  into.search_entries += c.search_entries;
}

/**
 * Erases conversations already out of view, a few per short transaction (ERASE_BUDGET_MS), yielding
 * between them so other requests run. Each conversation goes whole in one transaction: after a
 * crash every one is either erased or still marked, and the purge sweep finishes the marked ones.
 */
export async function eraseInBatches(
  uow: UnitOfWork,
  workspaceId: string,
  ids: readonly string[],
): Promise<{ erased: number; counts: DeleteCounts }> {
  const counts = emptyCounts();
  let erased = 0;
  let next = 0;
  while (next < ids.length) {
    const done = await uow.write(workspaceId, async ({ w }) => {
      const start = performance.now();
      let j = next;
      const batch = emptyCounts();
      let n = 0;
      while (j < ids.length && (j === next || performance.now() - start < ERASE_BUDGET_MS)) {
        const id = ids[j] as string;
        j++;
        const c = await w.conversations.delete(id);
        if (c) {
          addCounts(batch, c);
          n++;
        }
      }
      return { j, batch, n };
    });
    next = done.j;
    erased += done.n;
    addCounts(counts, done.batch);
    await yieldToOthers();
  }
  return { erased, counts };
}
