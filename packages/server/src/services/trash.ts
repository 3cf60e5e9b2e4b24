import type { AuthContext, Hold, TrashedConversation } from '../domain/types.js';
import { ParleyError, validation } from '../errors.js';
import type { DeleteCounts } from '../store/types.js';
import { recordAudit } from './audit.js';
import { actorKeyId, type InTransaction, requireScope, type ServiceDeps } from './context.js';
import type { CursorCodec } from './cursor.js';
import { addCounts, EraseBatch, emptyCounts, holdCandidate } from './erase.js';
import { idPage, type Page } from './pages.js';
import type { UnitOfWork } from './unit-of-work.js';

/** Most days a workspace may keep deleted conversations in its trash. */
export const TRASH_DAYS_MAX = 3650;

export interface PurgeReport {
  purged: number;
  /** Due but covered by an active legal hold: they stay in the trash. */
  held: number;
  counts: DeleteCounts;
}

/** Administrative actions are refused to a key bound to one user. */
export function requireUnbound(auth: AuthContext, what: string): void {
  if (auth.userId !== null) {
    throw new ParleyError('insufficient_permissions', `A key bound to a user cannot ${what}`, {
      extra: { bound_user_id: auth.userId },
    });
  }
}

/**
 * The trash: its setting (trash_days), its list, and the purge that erases for good what is due:
 * trashed conversations past their window and permanent deletes a crash left half-done.
 */
export class TrashService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly uow: UnitOfWork,
    private readonly cursors: CursorCodec,
  ) {}

  /** PATCH /v1/workspace: the workspace's own settings (admin; audited). */
  async setTrashDays(auth: AuthContext, days: number, inTx?: InTransaction<number>): Promise<number> {
    requireScope(auth, 'admin');
    requireUnbound(auth, 'change workspace settings');
    if (!Number.isInteger(days) || days < 0 || days > TRASH_DAYS_MAX) {
      throw validation('/body/trash_days', `trash_days must be an integer from 0 to ${TRASH_DAYS_MAX}`);
    }
    return this.uow.write(
      auth.workspaceId,
      async ({ w }) => {
        const before = await w.trash.days();
        await w.trash.setDays(days);
        if (before !== days) {
          await recordAudit(w, {
            actor: actorKeyId(auth),
            action: 'workspace.updated',
            targetType: 'workspace',
            targetId: auth.workspaceId,
            counts: { trash_days: days },
            at: this.deps.clock.now(),
          });
        }
        return days;
      },
      inTx,
    );
  }

  async trashDays(auth: AuthContext): Promise<number> {
    requireScope(auth, 'read:ai');
    return this.deps.store.read(auth.workspaceId, (r) => r.trash.days());
  }

  /** GET /v1/trash: oldest first by id; a user-bound key sees its user's only. */
  async list(
    auth: AuthContext,
    q: { cursor?: string | undefined; limit?: number | undefined; order?: 'asc' | 'desc' | undefined },
  ): Promise<Page<TrashedConversation & { id: string }>> {
    requireScope(auth, 'read:ai');
    const userId = auth.userId ?? undefined;
    return this.deps.store.read(auth.workspaceId, (r) =>
      idPage(this.cursors, auth.workspaceId, `trash:${userId ?? ''}`, q, async (p) =>
        (await r.trash.list({ ...p, userId })).map((t) => ({ ...t, id: t.conversation.id })),
      ),
    );
  }

  /** POST /v1/trash/purge: erases now what is due in the caller's workspace (everything in the trash with `all`). */
  async purgeNow(auth: AuthContext, all: boolean): Promise<PurgeReport> {
    requireScope(auth, 'admin');
    requireUnbound(auth, 'purge the trash');
    const dueBy = all ? Number.MAX_SAFE_INTEGER : this.deps.clock.now();
    return purgeWorkspace(
      this.uow,
      auth.workspaceId,
      dueBy,
      actorKeyId(auth),
      () => this.deps.clock.now(),
      EraseBatch.for(this.deps),
    );
  }

  /** The periodic sweep over every workspace (Parley.start): what is due now. */
  async sweep(): Promise<PurgeReport> {
    const total: PurgeReport = { purged: 0, held: 0, counts: emptyCounts() };
    const now = this.deps.clock.now();
    const done = new Set<string>();
    for (;;) {
      const workspaces = (await this.deps.store.instance.workspacesWithDue(now, 100 + done.size)).filter(
        (ws) => !done.has(ws),
      );
      if (workspaces.length === 0) return total;
      for (const ws of workspaces) {
        done.add(ws);
        const r = await purgeWorkspace(this.uow, ws, now, null, () => this.deps.clock.now(), EraseBatch.for(this.deps));
        total.purged += r.purged;
        total.held += r.held;
        addCounts(total.counts, r.counts);
      }
    }
  }
}

/**
 * Erases the workspace's conversations out of view that are due by `dueBy`, in short
 * transactions that claim what they erase (PostgreSQL: SKIP LOCKED, so several instances share
 * the work) and erase it set-based (`deleteMany`), as many per transaction as keep it near
 * ERASE_BUDGET_MS (EraseBatch); held ones stay. Each transaction writes its audit row.
 * Resumable by nature: a crash leaves the rest marked and due, and the next run takes them.
 */
export async function purgeWorkspace(
  uow: UnitOfWork,
  workspaceId: string,
  dueBy: number,
  actor: string | null,
  now: () => number,
  batch: EraseBatch,
): Promise<PurgeReport> {
  const report: PurgeReport = { purged: 0, held: 0, counts: emptyCounts() };
  const heldIds = new Set<string>();
  for (;;) {
    const size = batch.size;
    const step = await uow.write(workspaceId, async ({ w, notify }) => {
      batch.begin();
      const claimed = (await w.trash.claimDue(dueBy, size + heldIds.size)).filter(
        (d) => !heldIds.has(d.conversation.id),
      );
      if (claimed.length === 0) return null;
      const holds: Map<string, Hold> = await w.holds.heldAmong(claimed.map((d) => holdCandidate(d.conversation)));
      const newlyHeld = claimed.filter((d) => holds.has(d.conversation.id)).map((d) => d.conversation.id);
      const free = claimed.filter((d) => !holds.has(d.conversation.id)).slice(0, size);
      const removed = await w.conversations.deleteMany(free.map((d) => d.conversation.id));
      const gone = new Set(removed.conversations.map((c) => c.id));
      for (const d of free) {
        // a conversation from the trash is announced as purged; a permanent delete being
        // finished was announced as deleted when it left view
        if (d.state !== 'trash' || !gone.has(d.conversation.id)) continue;
        await notify('conversation.purged', {
          conversation: { id: d.conversation.id, user_id: d.conversation.userId },
          counts: { messages: d.conversation.messageCount, tool_invocations: d.conversation.toolInvocationCount },
        });
      }
      const purged = removed.conversations.length;
      const counts = emptyCounts();
      addCounts(counts, removed.rows);
      if (purged > 0) {
        await recordAudit(w, {
          actor,
          action: 'conversations.purged',
          targetType: 'conversation',
          targetId: '*',
          counts: { conversations: purged, ...counts },
          at: now(),
        });
      }
      return { purged, counts, newlyHeld, taken: free.length };
    });
    if (step === null) return report;
    const held = batch.end(step.taken);
    for (const id of step.newlyHeld) heldIds.add(id);
    report.purged += step.purged;
    report.held = heldIds.size;
    addCounts(report.counts, step.counts);
    if (step.purged === 0 && step.newlyHeld.length === 0) return report;
    await batch.rest(held);
  }
}
