import { useEffect, useState } from 'preact/hooks';
import { type Problem, type Trashed, toProblem } from '../api.js';
import { useConsole } from '../context.js';
import { num, plural, when } from '../format.js';
import { href } from '../router.js';
import { Confirm, ErrorBanner, PageTitle } from '../ui.js';

const PAGE = 50;

export function TrashScreen() {
  const { client, session, workspace, announce } = useConsole();
  const [items, setItems] = useState<Trashed[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [failures, setFailures] = useState<Array<{ title: string; problem: Problem }>>([]);
  const [purging, setPurging] = useState(false);

  const load = async (from: string | null) => {
    setLoading(true);
    try {
      const page = await client.trash.list({ limit: PAGE }).page(from ?? undefined);
      setItems((prev) => (from && prev ? [...prev, ...page.data] : page.data));
      setCursor(page.meta.next_cursor ?? null);
      setProblem(null);
    } catch (e) {
      setProblem(toProblem(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load(null);
  }, []);

  /** Restores each one in turn; what came back leaves the list, each refusal is shown. */
  const restore = async (ids: string[]) => {
    setBusy(true);
    setFailures([]);
    const back: string[] = [];
    const failed: Array<{ title: string; problem: Problem }> = [];
    for (const id of ids) {
      const t = items?.find((x) => x.conversation.id === id);
      try {
        await client.conversations.restore(id);
        back.push(id);
      } catch (e) {
        failed.push({ title: t?.conversation.title ?? id, problem: toProblem(e) });
      }
    }
    setItems((prev) => prev?.filter((x) => !back.includes(x.conversation.id)) ?? prev);
    setSelected((s) => new Set([...s].filter((id) => !back.includes(id))));
    setFailures(failed);
    setBusy(false);
    if (back.length === 1) {
      const t = items?.find((x) => x.conversation.id === back[0]);
      announce(`Restored “${t?.conversation.title ?? back[0]}”.`);
    } else if (back.length > 1) announce(`Restored ${plural(back.length, 'conversation')}.`);
  };

  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const allShown = !!items && items.length > 0 && items.every((t) => selected.has(t.conversation.id));
  const days = workspace?.trash_days;

  return (
    <section class="screen">
      <div class="screen-head">
        <PageTitle>Trash</PageTitle>
        <p class="total">{items ? `${plural(items.length, 'conversation')}${cursor ? ' shown' : ''}` : ' '}</p>
      </div>
      <p class="muted lead">
        {days === undefined
          ? 'Deleted conversations stay here, restorable exactly as they were, until their purge time; then they are erased for good.'
          : days === 0
            ? 'The trash is off: deletes erase at once. '
            : `Deleted conversations stay here for ${plural(days, 'day')}, restorable exactly as they were; then they are erased for good. `}
        {session.admin && days !== undefined ? <a href={href.settings}>Change in Settings</a> : null} A conversation
        under a legal hold is never purged.
      </p>

      <div class="bulkbar">
        <label class="check">
          <input
            type="checkbox"
            checked={allShown}
            disabled={!items || items.length === 0}
            onChange={() => setSelected(allShown ? new Set() : new Set(items?.map((t) => t.conversation.id)))}
          />
          Select all shown
        </label>
        {selected.size > 0 ? (
          <>
            <span class="muted">{num(selected.size)} selected</span>
            <button type="button" class="primary" disabled={busy} onClick={() => restore([...selected])}>
              Restore selected
            </button>
          </>
        ) : null}
        <span class="spacer" />
        {session.admin ? (
          <button
            type="button"
            class="danger"
            disabled={busy || !items || items.length === 0}
            onClick={() => setPurging(true)}
          >
            Purge now…
          </button>
        ) : null}
      </div>

      <ErrorBanner problem={problem} />
      {failures.map((f) => (
        <ErrorBanner key={f.title} problem={f.problem} title={`Not restored: ${f.title}`} />
      ))}
      {items && items.length === 0 && !loading ? <p class="empty">The trash is empty.</p> : null}
      {items === null && !problem ? <p class="muted">Loading…</p> : null}

      {items && items.length > 0 ? (
        <ul class="conv-list" aria-label="Conversations in the trash">
          {items.map((t) => {
            const c = t.conversation;
            const title = c.title ?? 'Untitled conversation';
            return (
              <li key={c.id} class={selected.has(c.id) ? 'conv selected' : 'conv'}>
                <input
                  type="checkbox"
                  class="conv-check"
                  checked={selected.has(c.id)}
                  onChange={() => toggle(c.id)}
                  aria-label={`Select ${title}`}
                />
                <div class="conv-body">
                  <span class="conv-title">{title}</span>
                  <p class="conv-meta">
                    {c.user_id ? <span>user {c.user_id}</span> : null}
                    <span>{plural(c.message_count, 'message')}</span>
                    {c.tool_invocation_count > 0 ? <span>{plural(c.tool_invocation_count, 'tool step')}</span> : null}
                    <span>deleted {when(t.trashed_at)}</span>
                  </p>
                  <p class="purge-at">
                    Erased for good <time dateTime={t.purge_at}>{when(t.purge_at)}</time>
                  </p>
                </div>
                <button
                  type="button"
                  class="secondary small trash-restore"
                  disabled={busy}
                  aria-label={`Restore ${title}`}
                  onClick={() => restore([c.id])}
                >
                  Restore
                </button>
              </li>
            );
          })}
        </ul>
      ) : null}
      {cursor ? (
        <button type="button" class="secondary more" disabled={loading} onClick={() => load(cursor)}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      ) : null}

      {purging ? (
        <Confirm
          title="Purge the trash now?"
          action="Purge everything"
          onConfirm={async () => {
            const r = await client.trash.purge({ all: true });
            announce(
              `Erased ${plural(r.purged, 'conversation')} (${plural(r.messages, 'message')}) for good` +
                (r.held > 0 ? `; ${plural(r.held, 'held conversation')} stayed.` : '.'),
            );
          }}
          onClose={(done) => {
            setPurging(false);
            if (done) {
              setSelected(new Set());
              void load(null);
            }
          }}
        >
          <p>
            Everything in the trash{cursor ? '' : ` (${plural(items?.length ?? 0, 'conversation')})`} is erased for good
            now, with its messages and tool steps, instead of at its purge time. This cannot be undone.
          </p>
          <p class="muted">Conversations under a legal hold stay in the trash.</p>
        </Confirm>
      ) : null}
    </section>
  );
}
