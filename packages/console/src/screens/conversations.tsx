import { useEffect, useRef, useState } from 'preact/hooks';
import { type Conversation, isAbort, type Problem, toProblem } from '../api.js';
import { useConsole } from '../context.js';
import { dayBound, num, plural, when } from '../format.js';
import { href } from '../router.js';
import { Dialog, ErrorBanner, Field, PageTitle, useDebounced } from '../ui.js';

interface Filters {
  user_id: string;
  bot_id: string;
  contact_id: string;
  deal_id: string;
  matter_id: string;
  archived: 'false' | 'true' | 'only';
  created_from: string;
  created_until: string;
}

const NO_FILTERS: Filters = {
  user_id: '',
  bot_id: '',
  contact_id: '',
  deal_id: '',
  matter_id: '',
  archived: 'false',
  created_from: '',
  created_until: '',
};

// the list's search and filters survive opening a conversation and coming back (this tab only)
let remembered: { query: string; filters: Filters } = { query: '', filters: NO_FILTERS };

const PAGE_SIZE = 25;

function activeFilters(f: Filters): number {
  return (Object.keys(f) as Array<keyof Filters>).filter((k) => f[k] !== NO_FILTERS[k]).length;
}

function listParams(f: Filters) {
  const p: Record<string, string | number> = { per_page: PAGE_SIZE };
  for (const k of ['user_id', 'bot_id', 'contact_id', 'deal_id', 'matter_id'] as const) {
    const v = f[k].trim();
    if (v) p[k] = v;
  }
  if (f.archived !== 'false') p.archived = f.archived;
  const after = dayBound(f.created_from);
  const before = dayBound(f.created_until, true);
  if (after) p.created_after = after;
  if (before) p.created_before = before;
  return p;
}

/** The snippet as text with <mark> around each highlighted range (offsets in UTF-16 units). */
export function Snippet({ match }: { match: NonNullable<Conversation['match']> }) {
  const parts: preact.ComponentChildren[] = [];
  let at = 0;
  for (const h of match.highlights) {
    if (h.start < at || h.end > match.snippet.length) continue;
    parts.push(match.snippet.slice(at, h.start));
    parts.push(<mark key={h.start}>{match.snippet.slice(h.start, h.end)}</mark>);
    at = h.end;
  }
  parts.push(match.snippet.slice(at));
  return (
    <p class="snippet">
      <span class="visually-hidden">{match.field === 'title' ? 'Title match: ' : 'Message match: '}</span>
      {parts}
    </p>
  );
}

export function ConversationsScreen() {
  const { client, announce } = useConsole();
  const [query, setQuery] = useState(remembered.query);
  const [filters, setFilters] = useState<Filters>(remembered.filters);
  const [showFilters, setShowFilters] = useState(activeFilters(remembered.filters) > 0);
  const [items, setItems] = useState<Conversation[]>([]);
  const [total, setTotal] = useState<{ n: number; exact: boolean; q: string } | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [confirming, setConfirming] = useState(false);
  const request = useRef<AbortController | null>(null);
  const more = useRef<HTMLButtonElement>(null);

  // one settled value for the text and the filters: typing sends one request once it pauses
  const settled = useDebounced(JSON.stringify({ q: query.trim(), f: filters }), 250);
  const lister = () => {
    const { q, f } = JSON.parse(settled) as { q: string; f: Filters };
    const params = listParams(f);
    return q ? client.conversations.search(q, params) : client.conversations.list(params);
  };

  const load = async (from: string | null) => {
    request.current?.abort();
    const ac = new AbortController();
    request.current = ac;
    setLoading(true);
    setProblem(null);
    try {
      const q = (JSON.parse(settled) as { q: string }).q;
      const page = await lister().page(from ?? undefined);
      if (ac.signal.aborted) return;
      setItems((prev) => (from ? [...prev, ...page.data.filter((c) => !prev.some((p) => p.id === c.id))] : page.data));
      setCursor(page.meta.next_cursor ?? null);
      if (!from) setTotal({ n: page.meta.total, exact: page.meta.total_exact !== false, q });
    } catch (e) {
      if (!isAbort(e) && !ac.signal.aborted) setProblem(toProblem(e));
    } finally {
      if (request.current === ac) setLoading(false);
    }
  };

  useEffect(() => {
    remembered = { query, filters };
  }, [query, filters]);

  useEffect(() => {
    setSelected(new Set());
    void load(null);
    return () => request.current?.abort();
  }, [settled]);

  // keyset infinite scroll: the "Load more" button fetches the next page when it scrolls into view
  useEffect(() => {
    const el = more.current;
    if (!el || !cursor || loading || problem) return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void load(cursor);
    });
    io.observe(el);
    return () => io.disconnect();
  }, [cursor, loading, problem]);

  const setFilter = <K extends keyof Filters>(k: K, v: Filters[K]) => setFilters((f) => ({ ...f, [k]: v }));
  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const allShown = items.length > 0 && items.every((c) => selected.has(c.id));
  const searching = (JSON.parse(settled) as { q: string }).q;
  const count = activeFilters(filters);

  return (
    <section class="screen" aria-labelledby="conversations-title">
      <div class="screen-head" id="conversations-title">
        <PageTitle>Conversations</PageTitle>
        <p class="total" aria-live="polite">
          {total === null
            ? ' '
            : total.q
              ? `${total.exact ? '' : 'About '}${plural(total.n, 'match', 'matches')} for “${total.q}”`
              : `${total.exact ? '' : 'About '}${plural(total.n, 'conversation')}`}
        </p>
      </div>

      <search>
        <form class="searchbar" onSubmit={(e) => e.preventDefault()}>
          <div class="field grow">
            <label for="search">Search titles and messages</label>
            <input
              id="search"
              type="search"
              value={query}
              onInput={(e) => setQuery(e.currentTarget.value)}
              placeholder="e.g. refund acme"
              autoComplete="off"
            />
          </div>
          <button
            type="button"
            class="secondary"
            aria-expanded={showFilters}
            aria-controls="filters"
            onClick={() => setShowFilters((v) => !v)}
          >
            Filters{count > 0 ? ` (${count})` : ''}
          </button>
        </form>
      </search>

      <fieldset id="filters" class="filters" hidden={!showFilters}>
        <legend class="visually-hidden">Filters</legend>
        <Field id="f-user" label="User id">
          <input id="f-user" value={filters.user_id} onInput={(e) => setFilter('user_id', e.currentTarget.value)} />
        </Field>
        <Field id="f-bot" label="Bot id">
          <input id="f-bot" value={filters.bot_id} onInput={(e) => setFilter('bot_id', e.currentTarget.value)} />
        </Field>
        <Field id="f-contact" label="Contact id">
          <input
            id="f-contact"
            value={filters.contact_id}
            onInput={(e) => setFilter('contact_id', e.currentTarget.value)}
          />
        </Field>
        <Field id="f-deal" label="Deal id">
          <input id="f-deal" value={filters.deal_id} onInput={(e) => setFilter('deal_id', e.currentTarget.value)} />
        </Field>
        <Field id="f-matter" label="Matter id">
          <input
            id="f-matter"
            value={filters.matter_id}
            onInput={(e) => setFilter('matter_id', e.currentTarget.value)}
          />
        </Field>
        <Field id="f-archived" label="Archived">
          <select
            id="f-archived"
            value={filters.archived}
            onChange={(e) => setFilter('archived', e.currentTarget.value as Filters['archived'])}
          >
            <option value="false">Hide archived</option>
            <option value="true">Include archived</option>
            <option value="only">Only archived</option>
          </select>
        </Field>
        <Field id="f-from" label="Created from (UTC)">
          <input
            id="f-from"
            type="date"
            value={filters.created_from}
            onInput={(e) => setFilter('created_from', e.currentTarget.value)}
          />
        </Field>
        <Field id="f-until" label="Created until (UTC)">
          <input
            id="f-until"
            type="date"
            value={filters.created_until}
            onInput={(e) => setFilter('created_until', e.currentTarget.value)}
          />
        </Field>
        <div class="filters-actions">
          <button type="button" class="ghost" disabled={count === 0} onClick={() => setFilters(NO_FILTERS)}>
            Clear filters
          </button>
        </div>
      </fieldset>

      <div class="bulkbar">
        <label class="check">
          <input
            type="checkbox"
            checked={allShown}
            disabled={items.length === 0}
            onChange={() => setSelected(allShown ? new Set() : new Set(items.map((c) => c.id)))}
          />
          Select all shown
        </label>
        {selected.size > 0 ? (
          <>
            <span class="muted">{num(selected.size)} selected</span>
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Delete selected…
            </button>
          </>
        ) : null}
      </div>

      <ErrorBanner problem={problem} />

      {items.length === 0 && !loading && !problem ? (
        <p class="empty">
          {searching || count > 0 ? 'Nothing matches. Try fewer words or clear the filters.' : 'No conversations yet.'}
        </p>
      ) : null}

      <ul class="conv-list" aria-label="Conversations" aria-busy={loading}>
        {items.map((c) => (
          <li key={c.id} class={selected.has(c.id) ? 'conv selected' : 'conv'}>
            <input
              type="checkbox"
              class="conv-check"
              id={`sel-${c.id}`}
              checked={selected.has(c.id)}
              onChange={() => toggle(c.id)}
              aria-label={`Select ${c.title ?? 'untitled conversation'}`}
            />
            <div class="conv-body">
              <a class="conv-title" href={href.conversation(c.id)}>
                {c.title ?? <span class="untitled">Untitled</span>}
              </a>
              {c.archived ? <span class="badge">Archived</span> : null}
              {c.match ? <Snippet match={c.match} /> : null}
              <p class="conv-meta">
                {c.user_id ? <span>user {c.user_id}</span> : null}
                {c.bot_id ? <span>bot {c.bot_id}</span> : null}
                <span>{plural(c.message_count, 'message')}</span>
                {c.tool_invocation_count > 0 ? <span>{plural(c.tool_invocation_count, 'tool step')}</span> : null}
                <span>updated {when(c.updated_at)}</span>
              </p>
            </div>
          </li>
        ))}
      </ul>

      {cursor ? (
        <button type="button" ref={more} class="secondary more" disabled={loading} onClick={() => load(cursor)}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      ) : loading ? (
        <p class="muted">Loading…</p>
      ) : items.length > 0 ? (
        <p class="muted end">End of the list.</p>
      ) : null}

      {confirming ? (
        <BulkDelete
          items={items.filter((c) => selected.has(c.id))}
          onClose={(deleted) => {
            setConfirming(false);
            if (deleted.length === 0) return;
            setItems((prev) => prev.filter((c) => !deleted.includes(c.id)));
            setSelected((s) => new Set([...s].filter((id) => !deleted.includes(id))));
            setTotal((t) => (t ? { ...t, n: Math.max(0, t.n - deleted.length) } : t));
            announce(`Deleted ${plural(deleted.length, 'conversation')}.`);
          }}
        />
      ) : null}
    </section>
  );
}

type Outcome = 'deleted' | 'held' | 'not_found';

/**
 * Deletes the selection in one request (`bulk-delete`, not atomic: what is not held goes), then
 * shows each one's result; the list in the dialog says what goes, and where (the trash, when on).
 */
function BulkDelete({ items, onClose }: { items: Conversation[]; onClose: (deleted: string[]) => void }) {
  const { client, workspace } = useConsole();
  const [outcomes, setOutcomes] = useState<Record<string, { state: Outcome; hold?: string | undefined }>>({});
  const [problem, setProblem] = useState<Problem | null>(null);
  const [phase, setPhase] = useState<'confirm' | 'running' | 'done'>('confirm');
  const messages = items.reduce((n, c) => n + c.message_count, 0);
  const tools = items.reduce((n, c) => n + c.tool_invocation_count, 0);
  const days = workspace?.trash_days;
  const deleted = () =>
    Object.entries(outcomes)
      .filter(([, o]) => o.state === 'deleted')
      .map(([id]) => id);

  const run = async () => {
    setPhase('running');
    setProblem(null);
    try {
      const r = await client.conversations.bulkDelete({ ids: items.map((c) => c.id), atomic: false });
      setOutcomes(Object.fromEntries(r.data.map((x) => [x.id, { state: x.status, hold: x.hold_id }])));
      setPhase('done');
    } catch (e) {
      setProblem(toProblem(e));
      setPhase('confirm');
    }
  };
  const label: Record<Outcome, string> = {
    deleted: days ? ' — moved to the trash' : ' — deleted',
    held: ' — not deleted: under legal hold',
    not_found: ' — already gone',
  };

  return (
    <Dialog
      title={`Delete ${plural(items.length, 'conversation')}?`}
      onClose={() => onClose(deleted())}
      initialFocus="[data-cancel]"
      locked={phase === 'running'}
      wide
    >
      <p>
        This deletes {plural(items.length, 'conversation')} with {plural(messages, 'message')} and{' '}
        {plural(tools, 'tool invocation')}.{' '}
        {days
          ? `They go to the trash, restorable for ${plural(days, 'day')}.`
          : days === 0
            ? 'The trash is off: it cannot be undone.'
            : 'Unless the workspace keeps a trash, it cannot be undone.'}{' '}
        Conversations under a legal hold stay.
      </p>
      <ul class="bulk-results">
        {items.map((c) => {
          const o = outcomes[c.id];
          return (
            <li key={c.id}>
              <span class="bulk-name">{c.title ?? c.id}</span>
              <span class="muted">
                {' '}
                · {plural(c.message_count, 'message')}, {plural(c.tool_invocation_count, 'tool invocation')}
              </span>
              {o ? (
                <span class={`result ${o.state}`}>
                  {label[o.state]}
                  {o.hold ? <span class="muted"> ({o.hold})</span> : null}
                </span>
              ) : null}
            </li>
          );
        })}
      </ul>
      <ErrorBanner problem={problem} title="Nothing deleted" />
      <div class="dialog-actions">
        {phase === 'done' ? (
          <button type="button" class="primary" data-cancel onClick={() => onClose(deleted())}>
            Close
          </button>
        ) : (
          <>
            <button
              type="button"
              class="secondary"
              data-cancel
              disabled={phase === 'running'}
              onClick={() => onClose([])}
            >
              Cancel
            </button>
            <button type="button" class="danger" disabled={phase === 'running'} onClick={run}>
              {phase === 'running' ? 'Deleting…' : `Delete ${plural(items.length, 'conversation')}`}
            </button>
          </>
        )}
      </div>
    </Dialog>
  );
}
