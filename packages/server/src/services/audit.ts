import type { AuditEvent, AuthContext, JsonObject } from '../domain/types.js';
import { newId, parseId } from '../ids.js';
import type { AuditFilter, WorkspaceWriter } from '../store/types.js';
import { requireScope, type ServiceDeps } from './context.js';
import type { CursorCodec } from './cursor.js';
import { idPage, type Page } from './pages.js';

/** One audit row in the writer's workspace: what happened, to what, by whom (never content). */
export async function recordAudit(
  w: WorkspaceWriter,
  e: {
    /** The acting key's id, or null for the operator (CLI, first start). */
    actor: string | null;
    action: string;
    targetType: string;
    targetId: string;
    counts?: Record<string, number>;
    /** Ids and times only, never content. */
    details?: JsonObject;
    at: number;
  },
): Promise<void> {
  await w.audit.insert({
    id: newId('audit', e.at),
    workspaceId: w.workspaceId,
    actorKeyId: e.actor,
    action: e.action,
    targetType: e.targetType,
    targetId: e.targetId,
    counts: e.counts ?? {},
    details: e.details ?? null,
    createdAt: e.at,
  });
}

export interface AuditListInput {
  cursor?: string | undefined;
  limit?: number | undefined;
  order?: 'asc' | 'desc' | undefined;
  action?: string | undefined;
  actorKeyId?: string | undefined;
  conversationId?: string | undefined;
  createdAfter?: number | undefined;
  createdBefore?: number | undefined;
}

/** The workspace's audit log, for its admins. */
export class AuditService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly cursors: CursorCodec,
  ) {}

  /** Newest first by default; the cursor is bound to the filters it was minted with. */
  async list(auth: AuthContext, q: AuditListInput): Promise<Page<AuditEvent>> {
    requireScope(auth, 'admin');
    const filter: AuditFilter = {
      action: q.action,
      actorKeyId: q.actorKeyId === undefined ? undefined : (parseId('apiKey', q.actorKeyId) ?? q.actorKeyId),
      ...(q.conversationId === undefined
        ? {}
        : { targetType: 'conversation', targetId: parseId('conversation', q.conversationId) ?? q.conversationId }),
      createdAfter: q.createdAfter,
      createdBefore: q.createdBefore,
    };
    // the cursor is bound to the filters (resend them with it); order and page size travel in it
    return this.deps.store.read(auth.workspaceId, (r) =>
      idPage(
        this.cursors,
        auth.workspaceId,
        `audit:${JSON.stringify(filter)}`,
        q,
        (p) => r.audit.list({ ...filter, ...p }),
        'desc',
      ),
    );
  }
}
