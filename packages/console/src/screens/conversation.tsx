import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  type Conversation,
  type Hold,
  isAbort,
  type Message,
  type Problem,
  type StreamEvent,
  type ToolInvocation,
  toProblem,
} from '../api.js';
import { useConsole } from '../context.js';
import { exportConversation } from '../export.js';
import { json, plural, when } from '../format.js';
import { href, navigate } from '../router.js';
import { Dialog, ErrorBanner, Field, PageTitle } from '../ui.js';
import { holdCovers, holdTarget } from './holds.js';

type Live = 'connecting' | 'live' | 'offline' | 'ended';
type Entry = { kind: 'message'; m: Message; sort: string } | { kind: 'tool'; t: ToolInvocation; sort: string };

const MESSAGE_PAGE = 100;

function byId<T extends { id: string }>(list: T[], add: T[]): T[] {
  const map = new Map(list.map((x) => [x.id, x]));
  for (const x of add) map.set(x.id, x);
  return [...map.values()];
}

/** Messages oldest first; each tool step right after the message it belongs to, or by its own time. */
function timeline(messages: Message[], tools: ToolInvocation[]): Entry[] {
  const at = new Map(messages.map((m) => [m.id, `${m.created_at} ${m.id}`]));
  const entries: Entry[] = messages.map((m) => ({ kind: 'message', m, sort: `${m.created_at} ${m.id} 0` }));
  for (const t of tools) {
    const anchor = t.message_id ? at.get(t.message_id) : undefined;
    entries.push({ kind: 'tool', t, sort: anchor ? `${anchor} 1 ${t.created_at}` : `${t.created_at} ${t.id} 0` });
  }
  return entries.sort((a, b) => (a.sort < b.sort ? -1 : a.sort > b.sort ? 1 : 0));
}

const ROLE_LABEL: Record<Message['role'], string> = {
  user: 'User',
  assistant: 'Assistant',
  system: 'System',
  tool: 'Tool',
};

function isEmpty(o: unknown): boolean {
  return o === null || o === undefined || (typeof o === 'object' && Object.keys(o as object).length === 0);
}

export function ConversationScreen({ id }: { id: string }) {
  const { client, announce, session, workspace } = useConsole();
  const [conv, setConv] = useState<Conversation | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [tools, setTools] = useState<ToolInvocation[]>([]);
  const [older, setOlder] = useState<string | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [live, setLive] = useState<Live>('connecting');
  const [gone, setGone] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [actionProblem, setActionProblem] = useState<Problem | null>(null);
  const [renaming, setRenaming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [busy, setBusy] = useState(false);
  const [holds, setHolds] = useState<Hold[]>([]);
  const stream = useRef<AbortController | null>(null);
  const known = useRef(new Set<string>());

  const addMessages = (add: Message[]) => {
    const fresh = add.filter((m) => !known.current.has(m.id));
    for (const m of fresh) known.current.add(m.id);
    setMessages((prev) => byId(prev, add));
    return fresh.length;
  };

  const apply = (ev: StreamEvent) => {
    switch (ev.type) {
      case 'message.created': {
        const n = addMessages([ev.data]);
        if (n > 0)
          setConv((c) => c && { ...c, message_count: c.message_count + n, last_message_at: ev.data.created_at });
        break;
      }
      case 'tool_invocation.created':
      case 'tool_invocation.updated':
        setTools((prev) => {
          if (ev.type === 'tool_invocation.created' && !prev.some((t) => t.id === ev.data.id)) {
            setConv((c) => c && { ...c, tool_invocation_count: c.tool_invocation_count + 1 });
          }
          return byId(prev, [ev.data]);
        });
        break;
      case 'conversation.updated':
      case 'conversation.archived':
        setConv(ev.data);
        break;
      case 'conversation.deleted':
        setGone(true);
        break;
    }
  };

  useEffect(() => {
    const ac = new AbortController();
    stream.current = ac;
    let loaded = false;
    // the stream attaches first, so nothing written between the load and the attachment is missed;
    // events and loaded pages are merged by id
    const load = async () => {
      if (loaded) return;
      loaded = true;
      try {
        const {
          messages: _m,
          tool_invocations: _t,
          live_connections: _l,
          ...c
        } = await client.conversations.get(id, {
          limit: 1,
        });
        const page = await client.messages.list(id, { order: 'desc', limit: MESSAGE_PAGE }).page();
        const steps = await client.toolInvocations.list(id, { limit: 100 }).toArray();
        if (ac.signal.aborted) return;
        setConv(c);
        addMessages(page.data);
        setOlder(page.meta.next_cursor ?? null);
        setTools((prev) => byId(steps, prev));
      } catch (e) {
        if (!ac.signal.aborted && !isAbort(e)) setProblem(toProblem(e));
      }
    };
    const timer = setTimeout(() => void load(), 3000);
    (async () => {
      try {
        for await (const ev of client.streams.events(id, {
          signal: ac.signal,
          onReady: () => {
            setLive('live');
            void load();
          },
        })) {
          apply(ev);
        }
        if (!ac.signal.aborted) setLive('ended');
      } catch {
        if (ac.signal.aborted) return;
        setLive('offline');
        void load();
      }
    })();
    return () => {
      clearTimeout(timer);
      ac.abort();
    };
  }, [id]);

  // the active legal holds (admin keys may read them): the ones covering this conversation are shown
  useEffect(() => {
    if (!session.admin) return;
    client.holds
      .list({ limit: 100 })
      .toArray()
      .then(setHolds, () => undefined);
  }, [id]);

  const loadOlder = async () => {
    if (!older) return;
    setLoadingOlder(true);
    try {
      const page = await client.messages.list(id, { order: 'desc', limit: MESSAGE_PAGE }).page(older);
      addMessages(page.data);
      setOlder(page.meta.next_cursor ?? null);
    } catch (e) {
      setActionProblem(toProblem(e));
    } finally {
      setLoadingOlder(false);
    }
  };

  const update = async (body: { title?: string | null; archived?: boolean }, done: string) => {
    setBusy(true);
    setActionProblem(null);
    try {
      setConv(await client.conversations.update(id, body));
      announce(done);
      return true;
    } catch (e) {
      setActionProblem(toProblem(e));
      return false;
    } finally {
      setBusy(false);
    }
  };

  if (problem) {
    return (
      <section class="screen">
        <p>
          <a href={href.conversations}>← All conversations</a>
        </p>
        <PageTitle>Conversation</PageTitle>
        <ErrorBanner problem={problem} title="Could not open it" />
      </section>
    );
  }
  if (!conv) {
    return (
      <section class="screen">
        <p class="muted" role="status">
          Loading conversation…
        </p>
      </section>
    );
  }

  const entries = timeline(messages, tools);
  const title = conv.title ?? 'Untitled conversation';
  const held = holds.filter((h) => holdCovers(h, conv));
  return (
    <section class="screen conversation">
      <p class="back">
        <a href={href.conversations}>← All conversations</a>
      </p>
      <div class="conv-head">
        {renaming ? (
          <RenameForm
            current={conv.title ?? ''}
            busy={busy}
            onCancel={() => setRenaming(false)}
            onSave={async (t) => {
              if (
                await update(
                  { title: t === '' ? null : t },
                  t === '' ? 'Title reset to automatic.' : `Renamed to “${t}”.`,
                )
              )
                setRenaming(false);
            }}
          />
        ) : (
          <PageTitle>{title}</PageTitle>
        )}
        <p class="conv-sub">
          <LiveBadge live={gone ? 'ended' : live} />
          {conv.archived ? <span class="badge">Archived</span> : null}
          {held.length > 0 ? <span class="badge held">Legal hold</span> : null}
          <span class="muted">
            {plural(conv.message_count, 'message')} · {plural(conv.tool_invocation_count, 'tool step')} · updated{' '}
            {when(conv.updated_at)}
          </span>
        </p>
        {gone ? (
          <div class="notice" role="alert">
            This conversation was deleted. <a href={href.conversations}>Back to the list</a>
          </div>
        ) : (
          <div class="actions">
            {!renaming ? (
              <button type="button" class="secondary" disabled={busy} onClick={() => setRenaming(true)}>
                Rename
              </button>
            ) : null}
            <button
              type="button"
              class="secondary"
              disabled={busy}
              onClick={() =>
                update(
                  { archived: !conv.archived },
                  conv.archived ? 'Conversation unarchived.' : 'Conversation archived.',
                )
              }
            >
              {conv.archived ? 'Unarchive' : 'Archive'}
            </button>
            <ExportButton id={id} onProblem={setActionProblem} />
            <button type="button" class="danger" disabled={busy} onClick={() => setDeleting(true)}>
              Delete…
            </button>
          </div>
        )}
        {held.length > 0 && !gone ? <HeldNotice held={held} /> : null}
        <ErrorBanner problem={actionProblem} />
      </div>

      <div class="conv-layout">
        <div class="transcript">
          <h2 class="visually-hidden">Messages</h2>
          {older ? (
            <button type="button" class="secondary more" disabled={loadingOlder} onClick={loadOlder}>
              {loadingOlder ? 'Loading…' : 'Load earlier messages'}
            </button>
          ) : null}
          {entries.length === 0 ? <p class="empty">No messages yet.</p> : null}
          <ol class="messages" aria-live="polite" aria-relevant="additions">
            {entries.map((e) =>
              e.kind === 'message' ? <MessageItem key={e.m.id} m={e.m} /> : <ToolStep key={e.t.id} t={e.t} />,
            )}
          </ol>
        </div>
        <aside class="details" aria-labelledby="details-title">
          <h2 id="details-title">Details</h2>
          <dl>
            <dt>Id</dt>
            <dd>
              <code>{conv.id}</code>
            </dd>
            <dt>User</dt>
            <dd>{conv.user_id ?? '—'}</dd>
            <dt>Bot</dt>
            <dd>{conv.bot_id ?? '—'}</dd>
            <dt>Title</dt>
            <dd>
              {conv.title_source === 'auto' ? 'automatic, from the first message' : conv.title ? 'set by hand' : '—'}
            </dd>
            <dt>Created</dt>
            <dd>{when(conv.created_at)}</dd>
            <dt>Last message</dt>
            <dd>{when(conv.last_message_at)}</dd>
          </dl>
          <h3>Context</h3>
          {isEmpty(conv.context) ? (
            <p class="muted">None</p>
          ) : (
            <dl>
              {Object.entries(conv.context).map(([k, v]) => (
                <Fragment key={k}>
                  <dt>{k}</dt>
                  <dd>{typeof v === 'string' ? v : json(v)}</dd>
                </Fragment>
              ))}
            </dl>
          )}
          <h3>Metadata</h3>
          {isEmpty(conv.metadata) ? <p class="muted">None</p> : <pre class="json">{json(conv.metadata)}</pre>}
        </aside>
      </div>

      {deleting ? (
        <DeleteDialog
          conv={conv}
          held={held}
          trashDays={workspace?.trash_days ?? null}
          onCancel={() => setDeleting(false)}
          onDeleted={() => {
            stream.current?.abort();
            announce(workspace?.trash_days ? `Moved “${title}” to the trash.` : `Deleted “${title}”.`);
            navigate(href.conversations);
          }}
        />
      ) : null}
    </section>
  );
}

function HeldNotice({ held }: { held: Hold[] }) {
  return (
    <div class="notice held-notice">
      <p>
        <strong>Under legal hold.</strong> It cannot be deleted, purged or erased until{' '}
        {held.length === 1 ? 'this hold is' : 'these holds are'} released (reads, appends and changes still work):
      </p>
      <ul>
        {held.map((h) => (
          <li key={h.id}>
            {holdTarget(h)}
            {h.reason ? ` — “${h.reason}”` : ''} <span class="muted">({h.id})</span>
          </li>
        ))}
      </ul>
      <p>
        <a href={href.holds}>Manage legal holds</a>
      </p>
    </div>
  );
}

function LiveBadge({ live }: { live: Live }) {
  const text = { connecting: 'Connecting…', live: 'Live', offline: 'Not live', ended: 'Stream ended' }[live];
  return (
    <span class={`live ${live}`} role="status">
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

function RenameForm(props: { current: string; busy: boolean; onSave: (t: string) => void; onCancel: () => void }) {
  const [value, setValue] = useState(props.current);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);
  return (
    <form
      class="rename"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSave(value.trim());
      }}
      onKeyDown={(e) => {
        if (e.key === 'Escape') props.onCancel();
      }}
    >
      <Field id="rename-title" label="Title" hint="Leave empty to go back to the automatic title.">
        <input
          id="rename-title"
          ref={input}
          value={value}
          maxLength={500}
          aria-describedby="rename-title-hint"
          onInput={(e) => setValue(e.currentTarget.value)}
        />
      </Field>
      <div class="row">
        <button type="submit" class="primary" disabled={props.busy}>
          Save
        </button>
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function MessageItem({ m }: { m: Message }) {
  return (
    <li class={`msg ${m.role}`}>
      <div class="msg-head">
        <span class={`role ${m.role}`}>{ROLE_LABEL[m.role]}</span>
        <time dateTime={m.created_at}>{when(m.created_at)}</time>
      </div>
      <p class="msg-text">{m.content}</p>
      {isEmpty(m.metadata) ? null : (
        <details class="msg-meta">
          <summary>Message metadata</summary>
          <pre class="json">{json(m.metadata)}</pre>
        </details>
      )}
    </li>
  );
}

function ToolStep({ t }: { t: ToolInvocation }) {
  return (
    <li class="tool">
      <details>
        <summary>
          <span class="tool-label">Tool</span> <code>{t.tool_name}</code>{' '}
          <span class={`status ${t.status}`}>{t.status}</span>
          {t.duration_ms !== null ? <span class="muted"> · {t.duration_ms} ms</span> : null}
        </summary>
        <div class="tool-io">
          <h4>Input</h4>
          <pre class="json">{json(t.input)}</pre>
          <h4>Output</h4>
          <pre class="json">{json(t.output)}</pre>
          <p class="muted small">
            <code>{t.id}</code> · started {when(t.started_at)} · finished {when(t.finished_at)}
          </p>
        </div>
      </details>
    </li>
  );
}

function ExportButton({ id, onProblem }: { id: string; onProblem: (p: Problem | null) => void }) {
  const { client, announce } = useConsole();
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class="secondary"
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        onProblem(null);
        try {
          const r = await exportConversation(client, id);
          announce(`Exported ${r.file} (${plural(r.messages, 'message')}).`);
        } catch (e) {
          onProblem(toProblem(e));
        } finally {
          setBusy(false);
        }
      }}
    >
      {busy ? 'Exporting…' : 'Export'}
    </button>
  );
}

function DeleteDialog(props: {
  conv: Conversation;
  held: Hold[];
  /** The workspace's trash window; null when this key may not read it. */
  trashDays: number | null;
  onCancel: () => void;
  onDeleted: () => void;
}) {
  const { client } = useConsole();
  const { conv, trashDays } = props;
  const [busy, setBusy] = useState(false);
  const [exported, setExported] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const exportFirst = async () => {
    setBusy(true);
    setProblem(null);
    try {
      const r = await exportConversation(client, conv.id);
      setExported(`Saved ${r.file} with ${plural(r.messages, 'message')}.`);
    } catch (e) {
      setProblem(toProblem(e));
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    setBusy(true);
    setProblem(null);
    try {
      await client.conversations.delete(conv.id);
      props.onDeleted();
    } catch (e) {
      setProblem(toProblem(e));
      setBusy(false);
    }
  };
  const name = <strong>{conv.title ?? conv.id}</strong>;
  return (
    <Dialog title="Delete this conversation?" onClose={props.onCancel} initialFocus="[data-cancel]" locked={busy}>
      {trashDays ? (
        <p>{name} goes to the trash with everything it holds:</p>
      ) : (
        <p>{name} will be deleted with everything it holds:</p>
      )}
      <ul class="will-go">
        <li>{plural(conv.message_count, 'message')}</li>
        <li>{plural(conv.tool_invocation_count, 'tool invocation')}</li>
        <li>its search index entries; anyone watching it live is disconnected</li>
      </ul>
      {trashDays ? (
        <p class="muted">
          It can be restored from the Trash for {plural(trashDays, 'day')}; then it is erased for good.
        </p>
      ) : trashDays === 0 ? (
        <p class="muted">The trash is off in this workspace: this cannot be undone. Export it first to keep a copy.</p>
      ) : (
        <p class="muted">
          If this workspace keeps a trash it can be restored from there until it is purged; otherwise this cannot be
          undone. Export it first to keep a copy.
        </p>
      )}
      {props.held.length > 0 ? (
        <p class="warn">
          A legal hold covers it ({props.held.map((h) => h.reason ?? h.id).join('; ')}): the server refuses to delete it
          until the hold is released.
        </p>
      ) : null}
      {exported ? (
        <p class="ok" role="status">
          {exported}
        </p>
      ) : null}
      <ErrorBanner problem={problem} title="Not deleted" />
      <div class="dialog-actions">
        <button type="button" class="secondary" onClick={exportFirst} disabled={busy}>
          Export first
        </button>
        <span class="spacer" />
        <button type="button" class="secondary" data-cancel onClick={props.onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={remove} disabled={busy}>
          Delete conversation
        </button>
      </div>
    </Dialog>
  );
}
