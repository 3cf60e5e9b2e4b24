import { useEffect, useRef, useState } from 'preact/hooks';
import { type Problem, toProblem, type Webhook, type WebhookDelivery } from '../api.js';
import { useConsole } from '../context.js';
import { plural, when } from '../format.js';
import { Confirm, ErrorBanner, Field, PageTitle, ShownOnce, TableHead, useAction } from '../ui.js';

type EventType = Exclude<Webhook['events'][number], '*'>;
/**
 * The event types the server delivers, in the order shown. Their set comes from the server's
 * schema (webhooks/events.ts → OpenAPI → the SDK's types): a type added there and missing here, or
 * one here the server dropped, fails the console's typecheck.
 */
const EVENT_ORDER: Record<EventType, number> = {
  'conversation.created': 1,
  'conversation.updated': 2,
  'conversation.archived': 3,
  'conversation.deleted': 4,
  'conversation.trashed': 5,
  'conversation.restored': 6,
  'conversation.purged': 7,
  'user.erased': 8,
  'retention.ran': 9,
};
const EVENTS = (Object.keys(EVENT_ORDER) as EventType[]).sort((a, b) => EVENT_ORDER[a] - EVENT_ORDER[b]);

export function WebhooksScreen() {
  const { client, announce } = useConsole();
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [secret, setSecret] = useState<{ title: string; secret: string | null; note?: string } | null>(null);
  const [open, setOpen] = useState<Webhook | null>(null);
  const [rotating, setRotating] = useState<Webhook | null>(null);
  const [deleting, setDeleting] = useState<Webhook | null>(null);

  const reload = async () => {
    try {
      setHooks(await client.webhooks.list({ limit: 100 }).toArray());
      setProblem(null);
    } catch (e) {
      setProblem(toProblem(e));
    }
  };
  useEffect(() => {
    void reload();
  }, []);

  // a disabled endpoint gets no delivery for what happens meanwhile; enabling it again does not send those
  const [toggling, setToggling] = useState<string | null>(null);
  // the button stays focusable while the change is under way (a disabled button would drop focus)
  const toggle = async (h: Webhook) => {
    if (toggling) return;
    setToggling(h.id);
    try {
      const updated = await client.webhooks.update(h.id, { enabled: !h.enabled });
      setHooks((prev) => prev?.map((x) => (x.id === h.id ? updated : x)) ?? null);
      if (open?.id === h.id) setOpen(updated);
      announce(`${updated.enabled ? 'Enabled' : 'Disabled'} the webhook endpoint ${updated.url}.`);
      setProblem(null);
    } catch (e) {
      setProblem(toProblem(e));
    } finally {
      setToggling(null);
    }
  };

  return (
    <section class="screen">
      <div class="screen-head">
        <PageTitle>Webhooks</PageTitle>
        <p class="total">{hooks ? plural(hooks.length, 'endpoint') : ' '}</p>
      </div>
      <p class="muted lead">
        Parley POSTs each event to the endpoints that take it, signed the Standard Webhooks way with the endpoint's
        secret, and retries a failed delivery with backoff for at least 24 hours.
      </p>
      <ErrorBanner problem={problem} />
      {secret ? (
        <ShownOnce
          title={secret.title}
          secret={secret.secret}
          kept={`Parley never shows it again.${secret.note ? ` ${secret.note}` : ''}`}
          onDone={() => setSecret(null)}
        />
      ) : null}

      <div class="keys-layout">
        <div>
          <h2>Endpoints</h2>
          {hooks === null && !problem ? <p class="muted">Loading…</p> : null}
          {hooks && hooks.length === 0 ? <p class="empty">No endpoints yet.</p> : null}
          {hooks && hooks.length > 0 ? (
            <table class="table hooks">
              <TableHead caption="Webhook endpoints" columns={['URL', 'Events', 'State']} actions />
              <tbody>
                {hooks.map((h) => (
                  <tr key={h.id} class={h.enabled ? '' : 'inactive'}>
                    <td data-label="URL">
                      <span>
                        <code>{h.url}</code>
                        {h.description ? <span class="muted small block">{h.description}</span> : null}
                      </span>
                    </td>
                    <td data-label="Events">
                      {h.events.includes('*') ? 'all events' : <span class="events">{h.events.join(', ')}</span>}
                    </td>
                    <td data-label="State">
                      <span class={`state ${h.enabled ? 'active' : 'revoked'}`}>
                        {h.enabled ? 'enabled' : 'disabled'}
                      </span>
                    </td>
                    <td data-label="Actions">
                      <span class="row-actions">
                        <button
                          type="button"
                          class="secondary small"
                          aria-pressed={open?.id === h.id}
                          aria-label={`Deliveries to ${h.url}`}
                          onClick={() => setOpen(open?.id === h.id ? null : h)}
                        >
                          Deliveries
                        </button>
                        <button
                          type="button"
                          class="secondary small"
                          aria-disabled={toggling === h.id ? 'true' : undefined}
                          aria-label={`${h.enabled ? 'Disable' : 'Enable'} ${h.url}`}
                          onClick={() => toggle(h)}
                        >
                          {h.enabled ? 'Disable' : 'Enable'}
                        </button>
                        <button
                          type="button"
                          class="secondary small"
                          aria-label={`Rotate secret of ${h.url}`}
                          onClick={() => setRotating(h)}
                        >
                          Rotate secret…
                        </button>
                        <button
                          type="button"
                          class="danger small"
                          aria-label={`Delete ${h.url}`}
                          onClick={() => setDeleting(h)}
                        >
                          Delete…
                        </button>
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {open ? <Deliveries hook={open} key={open.id} /> : null}
        </div>
        <CreateWebhook
          onCreated={(h, s) => {
            setSecret({ title: `Copy the signing secret of ${h.url} now`, secret: s });
            announce(`Created the webhook endpoint ${h.url}.`);
            void reload();
          }}
        />
      </div>

      {rotating ? (
        <Confirm
          title="Rotate the signing secret?"
          action="Rotate secret"
          danger={false}
          onConfirm={async () => {
            const r = await client.webhooks.rotateSecret(rotating.id);
            const until = r.webhook.previous_secret_expires_at;
            setSecret({
              title: `Copy the new signing secret of ${r.webhook.url} now`,
              secret: r.secret,
              note: until ? `The previous secret also signs (a second signature) until ${when(until)}.` : '',
            });
            announce(`Rotated the secret of ${r.webhook.url}.`);
          }}
          onClose={(done) => {
            setRotating(null);
            if (done) void reload();
          }}
        >
          <p>
            <code>{rotating.url}</code> gets a new secret, shown once. For an overlap window each delivery carries a
            signature with the old secret too, so the receiver can switch without dropping events.
          </p>
        </Confirm>
      ) : null}
      {deleting ? (
        <Confirm
          title="Delete this webhook endpoint?"
          action="Delete endpoint"
          onConfirm={async () => {
            await client.webhooks.delete(deleting.id);
            announce(`Deleted the webhook endpoint ${deleting.url}.`);
          }}
          onClose={(done) => {
            if (done && open?.id === deleting.id) setOpen(null);
            setDeleting(null);
            if (done) void reload();
          }}
        >
          <p>
            Parley stops sending events to <code>{deleting.url}</code>. This cannot be undone.
          </p>
        </Confirm>
      ) : null}
    </section>
  );
}

function CreateWebhook({ onCreated }: { onCreated: (h: Webhook, secret: string | null) => void }) {
  const { client } = useConsole();
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [all, setAll] = useState(true);
  const [events, setEvents] = useState<EventType[]>([]);
  const { busy, problem, setProblem, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    if (!all && events.length === 0) {
      setProblem({ message: 'Choose at least one event, or all events.' });
      return;
    }
    void run(async () => {
      const body: Parameters<typeof client.webhooks.create>[0] = { url: url.trim(), events: all ? ['*'] : events };
      if (description.trim()) body.description = description.trim();
      const r = await client.webhooks.create(body);
      onCreated(r.webhook, r.secret);
      setUrl('');
      setDescription('');
      setAll(true);
      setEvents([]);
    });
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="create-hook-title">
      <h2 id="create-hook-title">Add an endpoint</h2>
      <Field id="hook-url" label="URL" hint="http:// or https://; it receives the POSTs.">
        <input
          id="hook-url"
          type="url"
          required
          value={url}
          placeholder="https://example.com/parley"
          aria-describedby="hook-url-hint"
          onInput={(e) => setUrl(e.currentTarget.value)}
        />
      </Field>
      <Field id="hook-description" label="Description (optional)">
        <input id="hook-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </Field>
      <fieldset class="scopes">
        <legend>Events</legend>
        <label class="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} />
          <span>All events, present and future</span>
        </label>
        {all
          ? null
          : EVENTS.map((ev) => (
              <label class="check" key={ev}>
                <input
                  type="checkbox"
                  checked={events.includes(ev)}
                  onChange={(e) =>
                    setEvents((prev) => (e.currentTarget.checked ? [...prev, ev] : prev.filter((x) => x !== ev)))
                  }
                />
                <code>{ev}</code>
              </label>
            ))}
      </fieldset>
      <ErrorBanner problem={problem} />
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Adding…' : 'Add endpoint'}
      </button>
    </form>
  );
}

const POLLS = 10;

/** One endpoint's delivery log, newest first, with Retry; after a retry it looks again for a while. */
function Deliveries({ hook }: { hook: Webhook }) {
  const { client, announce } = useConsole();
  const [items, setItems] = useState<WebhookDelivery[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const alive = useRef(true);

  const load = async (from: string | null = null) => {
    try {
      const page = await client.webhooks.deliveries(hook.id, { limit: 25 }).page(from ?? undefined);
      if (!alive.current) return page.data;
      setItems((prev) => (from && prev ? [...prev, ...page.data] : page.data));
      setCursor(page.meta.next_cursor ?? null);
      setProblem(null);
      return page.data;
    } catch (e) {
      if (alive.current) setProblem(toProblem(e));
      return [];
    }
  };
  useEffect(() => {
    void load();
    return () => {
      alive.current = false;
    };
  }, []);

  const retry = async (d: WebhookDelivery) => {
    setBusy(true);
    setProblem(null);
    try {
      await client.webhooks.retryDelivery(hook.id, d.id);
      announce(`Delivery of ${d.event_type} queued again.`);
      // the worker sends it at once: look again until it is no longer pending (bounded)
      for (let i = 0; i < POLLS && alive.current; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const now = await load();
        if (now.find((x) => x.id === d.id)?.state !== 'pending') break;
      }
    } catch (e) {
      setProblem(toProblem(e));
    } finally {
      if (alive.current) setBusy(false);
    }
  };

  return (
    <section class="deliveries" aria-labelledby="deliveries-title">
      <div class="list-head">
        <h2 id="deliveries-title">
          Deliveries to <code>{hook.url}</code>
        </h2>
        <button type="button" class="secondary small" disabled={busy} onClick={() => load()}>
          Refresh
        </button>
      </div>
      <ErrorBanner problem={problem} />
      {items === null && !problem ? <p class="muted">Loading…</p> : null}
      {items && items.length === 0 ? <p class="empty">No deliveries yet.</p> : null}
      {items && items.length > 0 ? (
        <table class="table">
          <TableHead
            caption="Deliveries, newest first"
            columns={['Event', 'State', 'Attempts', 'Last answer', 'When']}
            actions
          />
          <tbody>
            {items.map((d) => (
              <tr key={d.id}>
                <td data-label="Event">
                  <span>
                    <code class="nowrap">{d.event_type}</code>
                    <code class="muted small block">{d.id}</code>
                  </span>
                </td>
                <td data-label="State">
                  <span class={`state delivery-${d.state}`}>{d.state}</span>
                </td>
                <td data-label="Attempts">{d.attempts}</td>
                <td data-label="Last answer">
                  {d.last_error ?? (d.last_status !== null ? `HTTP ${d.last_status}` : '—')}
                </td>
                <td data-label="When">
                  {d.state === 'delivered'
                    ? `delivered ${when(d.delivered_at)}`
                    : d.state === 'pending' && d.next_attempt_at
                      ? `next try ${when(d.next_attempt_at)}`
                      : `last try ${when(d.last_attempt_at)}`}
                </td>
                <td data-label="Actions">
                  {d.state !== 'delivered' ? (
                    <button
                      type="button"
                      class="secondary small"
                      disabled={busy}
                      aria-label={`Retry ${d.event_type} ${d.id}`}
                      onClick={() => retry(d)}
                    >
                      Retry
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {cursor ? (
        <button type="button" class="secondary more" onClick={() => load(cursor)}>
          Load more
        </button>
      ) : null}
    </section>
  );
}
