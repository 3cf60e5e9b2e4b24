import { useEffect, useRef, useState } from 'preact/hooks';
import { type AuditEvent, isAbort, type Problem, toProblem } from '../api.js';
import { useConsole } from '../context.js';
import { dayBound, when } from '../format.js';
import { href } from '../router.js';
import { ErrorBanner, Field, PageTitle, useDebounced } from '../ui.js';

// the actions the server records (AuditEvent.action); the filter also takes any other text
const ACTIONS = [
  'conversation.deleted',
  'conversation.trashed',
  'conversations.bulk_deleted',
  'conversation.restored',
  'conversations.purged',
  'conversation.archived',
  'conversation.unarchived',
  'conversation.renamed',
  'conversations.exported',
  'conversations.imported',
  'message.deleted',
  'hold.created',
  'hold.released',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.secret_rotated',
  'api_key.created',
  'api_key.revoked',
  'workspace.created',
  'workspace.renamed',
  'workspace.updated',
];

interface Filters {
  action: string;
  actor_key_id: string;
  conversation_id: string;
  from: string;
  until: string;
}
const NONE: Filters = { action: '', actor_key_id: '', conversation_id: '', from: '', until: '' };
const PAGE = 50;

function params(f: Filters) {
  const p: Record<string, string | number> = { limit: PAGE };
  if (f.action) p.action = f.action;
  if (f.actor_key_id.trim()) p.actor_key_id = f.actor_key_id.trim();
  if (f.conversation_id.trim()) p.conversation_id = f.conversation_id.trim();
  const after = dayBound(f.from);
  const before = dayBound(f.until, true);
  if (after) p.created_after = after;
  if (before) p.created_before = before;
  return p;
}

/** { messages: 1, search_entries: 2 } as "1 message, 2 search entries". */
function counts(c: AuditEvent['counts']): string {
  const parts = Object.entries(c).map(([k, v]) => {
    const many = k.replace(/_/g, ' ');
    const one = many.endsWith('ies') ? `${many.slice(0, -3)}y` : many.replace(/s$/, '');
    return `${v} ${v === 1 ? one : many}`;
  });
  return parts.length ? parts.join(', ') : '—';
}

export function AuditScreen() {
  const { client } = useConsole();
  const [filters, setFilters] = useState<Filters>(NONE);
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const current = useRef<AbortController | null>(null);
  const settled = useDebounced(JSON.stringify(filters), 250);

  const load = async (from: string | null) => {
    current.current?.abort();
    const ac = new AbortController();
    current.current = ac;
    setLoading(true);
    setProblem(null);
    try {
      const page = await client.audit
        .list(params(JSON.parse(settled) as Filters), { signal: ac.signal })
        .page(from ?? undefined);
      if (ac.signal.aborted) return;
      setEvents((prev) => (from ? [...prev, ...page.data] : page.data));
      setCursor(page.meta.next_cursor ?? null);
    } catch (e) {
      if (!isAbort(e) && !ac.signal.aborted) setProblem(toProblem(e));
    } finally {
      if (current.current === ac) setLoading(false);
    }
  };
  useEffect(() => {
    void load(null);
    return () => current.current?.abort();
  }, [settled]);

  const set = <K extends keyof Filters>(k: K, v: string) => setFilters((f) => ({ ...f, [k]: v }));
  return (
    <section class="screen">
      <div class="screen-head">
        <PageTitle>Audit log</PageTitle>
        <p class="total muted">Who deleted, archived, renamed or created what, and when; never the content.</p>
      </div>
      <form class="filters open" onSubmit={(e) => e.preventDefault()} aria-label="Audit filters">
        <Field id="a-action" label="Action">
          <select id="a-action" value={filters.action} onChange={(e) => set('action', e.currentTarget.value)}>
            <option value="">Any action</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </Field>
        <Field id="a-actor" label="Actor key id">
          <input
            id="a-actor"
            value={filters.actor_key_id}
            onInput={(e) => set('actor_key_id', e.currentTarget.value)}
          />
        </Field>
        <Field id="a-conv" label="Conversation id">
          <input
            id="a-conv"
            value={filters.conversation_id}
            onInput={(e) => set('conversation_id', e.currentTarget.value)}
          />
        </Field>
        <Field id="a-from" label="From (UTC)">
          <input id="a-from" type="date" value={filters.from} onInput={(e) => set('from', e.currentTarget.value)} />
        </Field>
        <Field id="a-until" label="Until (UTC)">
          <input id="a-until" type="date" value={filters.until} onInput={(e) => set('until', e.currentTarget.value)} />
        </Field>
      </form>
      <ErrorBanner problem={problem} />
      {events.length === 0 && !loading && !problem ? <p class="empty">No events match.</p> : null}
      {events.length > 0 ? (
        <table class="table" aria-busy={loading}>
          <caption class="visually-hidden">Audit events, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Actor</th>
              <th scope="col">Target</th>
              <th scope="col">Counts</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id}>
                <td data-label="When">
                  <time dateTime={e.created_at}>{when(e.created_at)}</time>
                </td>
                <td data-label="Action">
                  <code>{e.action}</code>
                </td>
                <td data-label="Actor">
                  {e.actor_key_id ? <code>{e.actor_key_id}</code> : <span class="muted">{e.actor_type}</span>}
                </td>
                <td data-label="Target">
                  {e.target_type === 'conversation' && e.action !== 'conversation.deleted' ? (
                    <a href={href.conversation(e.target_id)}>{e.target_id}</a>
                  ) : (
                    <span>
                      <span class="muted">{e.target_type.replace(/_/g, ' ')}</span> <code>{e.target_id}</code>
                    </span>
                  )}
                </td>
                <td data-label="Counts">{counts(e.counts)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {cursor ? (
        <button type="button" class="secondary more" disabled={loading} onClick={() => load(cursor)}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      ) : loading ? (
        <p class="muted">Loading…</p>
      ) : null}
    </section>
  );
}
