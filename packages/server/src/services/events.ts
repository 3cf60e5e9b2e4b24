import type { AuthContext } from '../domain/types.js';
import { notFound } from '../errors.js';
import type { ConversationEvent } from '../realtime/events.js';
import { requireScope, type ServiceDeps } from './context.js';
import { loadConversation, parseConversationId } from './lookup.js';

/** The conversation event log as live streams read it. */
export class EventsService {
  constructor(private readonly deps: ServiceDeps) {}

  /** What a live stream needs before it attaches: the conversation exists here, and its last seq. */
  async streamPosition(auth: AuthContext, rawId: string): Promise<{ conversationId: string; seq: number }> {
    requireScope(auth, 'read:ai');
    return this.deps.store.read(auth.workspaceId, async (r) => {
      const conversationId =
        auth.userId === null ? parseConversationId(rawId) : (await loadConversation(r, auth, rawId)).id;
      const seq = await r.events.lastSeq(conversationId);
      if (seq === null) throw notFound();
      return { conversationId, seq };
    });
  }

  /** Logged events after `afterSeq` (up to `upTo`), oldest first; the caller already holds access. */
  async logged(
    workspaceId: string,
    conversationId: string,
    afterSeq: number,
    opts: { upTo?: number | undefined; limit: number },
  ): Promise<ConversationEvent[]> {
    const rows = await this.deps.store.read(workspaceId, (r) =>
      r.events.list(conversationId, { afterSeq, upTo: opts.upTo, limit: opts.limit }),
    );
    return rows.map((r) => ({ ...r, type: r.type as ConversationEvent['type'] }));
  }
}
