import type { AuthContext, Hold, HoldTargetType } from '../domain/types.js';
import { notFound, validation } from '../errors.js';
import { newId, parseId } from '../ids.js';
import { recordAudit } from './audit.js';
import { actorKeyId, type InTransaction, requireScope, type ServiceDeps } from './context.js';
import type { CursorCodec } from './cursor.js';
import { idPage, type Page } from './pages.js';
import { requireUnbound } from './trash.js';
import type { UnitOfWork } from './unit-of-work.js';

export const HOLD_TARGET_TYPES: readonly HoldTargetType[] = [
  'conversation',
  'user',
  'contact_id',
  'deal_id',
  'matter_id',
];

/**
 * Legal holds: while one is active, no conversation it covers (by id, user or context id) may be
 * deleted, purged or erased. Admin keys not bound to a user manage them; each change is audited.
 */
export class HoldsService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly uow: UnitOfWork,
    private readonly cursors: CursorCodec,
  ) {}

  private guard(auth: AuthContext): void {
    requireScope(auth, 'admin');
    requireUnbound(auth, 'manage legal holds');
  }

  async create(
    auth: AuthContext,
    input: { targetType: HoldTargetType; targetValue: string; reason?: string | undefined },
    inTx?: InTransaction<Hold>,
  ): Promise<Hold> {
    this.guard(auth);
    if (input.targetValue.trim().length === 0) throw validation('/body/target_value', 'target_value must not be empty');
    // a conversation is named in either spelling of its id; the hold keeps the canonical one
    let value = input.targetValue;
    if (input.targetType === 'conversation') {
      const id = parseId('conversation', value);
      if (id === null) throw validation('/body/target_value', 'target_value must be a conversation id');
      value = id;
    }
    const now = this.deps.clock.now();
    const hold: Hold = {
      id: newId('hold', now),
      workspaceId: auth.workspaceId,
      targetType: input.targetType,
      targetValue: value,
      reason: input.reason ?? null,
      createdAt: now,
      createdBy: actorKeyId(auth),
      releasedAt: null,
      releasedBy: null,
    };
    return this.uow.write(
      auth.workspaceId,
      async ({ w }) => {
        await w.holds.insert(hold);
        await recordAudit(w, {
          actor: actorKeyId(auth),
          action: 'hold.created',
          targetType: 'hold',
          targetId: hold.id,
          at: now,
        });
        return hold;
      },
      inTx,
    );
  }

  async list(
    auth: AuthContext,
    q: {
      includeReleased: boolean;
      cursor?: string | undefined;
      limit?: number | undefined;
      order?: 'asc' | 'desc' | undefined;
    },
  ): Promise<Page<Hold>> {
    this.guard(auth);
    return this.deps.store.read(auth.workspaceId, (r) =>
      idPage(this.cursors, auth.workspaceId, `holds:${q.includeReleased}`, q, (p) =>
        r.holds.list({ ...p, includeReleased: q.includeReleased }),
      ),
    );
  }

  async get(auth: AuthContext, rawId: string): Promise<Hold> {
    this.guard(auth);
    const id = parseId('hold', rawId);
    const hold = id === null ? null : await this.deps.store.read(auth.workspaceId, (r) => r.holds.get(id));
    if (!hold) throw notFound('Hold');
    return hold;
  }

  /** Releases the hold; releasing a released one answers it as it is (no second audit row). */
  async release(auth: AuthContext, rawId: string, inTx?: InTransaction<Hold>): Promise<Hold> {
    this.guard(auth);
    const id = parseId('hold', rawId);
    if (id === null) throw notFound('Hold');
    return this.uow.write(
      auth.workspaceId,
      async ({ w }) => {
        const current = await w.holds.get(id);
        if (!current) throw notFound('Hold');
        let hold = current;
        if (current.releasedAt === null) {
          const now = this.deps.clock.now();
          hold = (await w.holds.release(id, now, actorKeyId(auth))) ?? current;
          await recordAudit(w, {
            actor: actorKeyId(auth),
            action: 'hold.released',
            targetType: 'hold',
            targetId: id,
            at: now,
          });
        }
        return hold;
      },
      inTx,
    );
  }
}
