import { useEffect, useRef, useState } from 'preact/hooks';
import { type Conversation, type Hold, isAbort, type Problem, toProblem } from '../api.js';
import { useConsole } from '../context.js';
import { when } from '../format.js';
import { href } from '../router.js';
import { Confirm, ErrorBanner, Field, PageTitle, TableHead, useAction } from '../ui.js';

type Target = Hold['target_type'];
const TARGETS: Array<[Target, string, string]> = [
  ['conversation', 'Conversation', 'A conversation id (conv_…)'],
  ['user', 'User', 'Every conversation of this user id'],
  ['contact_id', 'Contact id', 'Every conversation with this context.contact_id'],
  ['deal_id', 'Deal id', 'Every conversation with this context.deal_id'],
  ['matter_id', 'Matter id', 'Every conversation with this context.matter_id'],
];

/** Whether an active hold covers the conversation: by its id, its user, or one of its context ids. */
export function holdCovers(h: Hold, c: Conversation): boolean {
  if (!h.active) return false;
  switch (h.target_type) {
    case 'conversation':
      return h.target_value === c.id;
    case 'user':
      return h.target_value === c.user_id;
    default:
      return c.context[h.target_type] === h.target_value;
  }
}

/** "Conversation conv_…", "User u1", "Deal id deal_9". */
export function holdTarget(h: Hold): string {
  const label = TARGETS.find(([t]) => t === h.target_type)?.[1] ?? h.target_type;
  return `${label} ${h.target_value}`;
}

export function HoldsScreen() {
  const { client, announce } = useConsole();
  const [released, setReleased] = useState(false);
  const [holds, setHolds] = useState<Hold[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [releasing, setReleasing] = useState<Hold | null>(null);

  // a reload supersedes the one before it: an older answer arriving last (the active holds, after
  // "Show released holds" was ticked) must not replace the newer one
  const current = useRef<AbortController | null>(null);
  const reload = async () => {
    current.current?.abort();
    const ac = new AbortController();
    current.current = ac;
    try {
      const list = await client.holds
        .list({ limit: 100, include_released: released ? 'true' : 'false' }, { signal: ac.signal })
        .toArray();
      if (ac.signal.aborted) return;
      setHolds(list);
      setProblem(null);
    } catch (e) {
      if (!isAbort(e) && !ac.signal.aborted) setProblem(toProblem(e));
    }
  };
  useEffect(() => {
    void reload();
    return () => current.current?.abort();
  }, [released]);

  const active = holds?.filter((h) => h.active).length ?? 0;
  return (
    <section class="screen">
      <div class="screen-head">
        <PageTitle>Legal holds</PageTitle>
        <p class="total">{holds ? `${active} active` : ' '}</p>
      </div>
      <p class="muted lead">
        While a hold is active, no conversation it covers can be deleted, purged from the trash or erased — by any key
        or surface. Reads, appends and changes still work.
      </p>
      <ErrorBanner problem={problem} />
      <div class="keys-layout">
        <div>
          <div class="list-head">
            <h2>Holds</h2>
            <label class="check">
              <input type="checkbox" checked={released} onChange={(e) => setReleased(e.currentTarget.checked)} />
              Show released holds
            </label>
          </div>
          {holds === null && !problem ? <p class="muted">Loading…</p> : null}
          {holds && holds.length === 0 ? <p class="empty">No {released ? '' : 'active '}holds.</p> : null}
          {holds && holds.length > 0 ? (
            <table class="table">
              <TableHead caption="Legal holds" columns={['Covers', 'Reason', 'Placed', 'State']} actions />
              <tbody>
                {holds.map((h) => (
                  <tr key={h.id} class={h.active ? '' : 'inactive'}>
                    <td data-label="Covers">
                      <span>
                        {h.target_type === 'conversation' ? (
                          <>
                            Conversation <a href={href.conversation(h.target_value)}>{h.target_value}</a>
                          </>
                        ) : (
                          holdTarget(h)
                        )}
                        <br />
                        <code class="muted small">{h.id}</code>
                      </span>
                    </td>
                    <td data-label="Reason">{h.reason ?? '—'}</td>
                    <td data-label="Placed">
                      <span>
                        {when(h.created_at)}
                        <br />
                        <span class="muted small">{h.created_by ? `by key ${h.created_by}` : 'by the operator'}</span>
                      </span>
                    </td>
                    <td data-label="State">
                      <span class={`state ${h.active ? 'active' : 'revoked'}`}>
                        {h.active ? 'active' : `released ${when(h.released_at)}`}
                      </span>
                    </td>
                    <td data-label="Actions">
                      {h.active ? (
                        <button
                          type="button"
                          class="danger small"
                          aria-label={`Release hold on ${holdTarget(h)}`}
                          onClick={() => setReleasing(h)}
                        >
                          Release…
                        </button>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </div>
        <CreateHold
          onCreated={(h) => {
            announce(`Placed a legal hold on ${holdTarget(h)}.`);
            void reload();
          }}
        />
      </div>
      {releasing ? (
        <Confirm
          title="Release this legal hold?"
          action="Release hold"
          onConfirm={async () => {
            await client.holds.release(releasing.id);
          }}
          onClose={(done) => {
            if (done) {
              announce(`Released the hold on ${holdTarget(releasing)}.`);
              void reload();
            }
            setReleasing(null);
          }}
        >
          <p>
            <strong>{holdTarget(releasing)}</strong>
            {releasing.reason ? ` — “${releasing.reason}”` : ''}
          </p>
          <p>
            Once released, what it covered can be deleted, purged and erased again (unless another hold covers it). The
            release is recorded in the audit log.
          </p>
        </Confirm>
      ) : null}
    </section>
  );
}

function CreateHold({ onCreated }: { onCreated: (h: Hold) => void }) {
  const { client } = useConsole();
  const [type, setType] = useState<Target>('conversation');
  const [value, setValue] = useState('');
  const [reason, setReason] = useState('');
  const { busy, problem, run } = useAction();
  const hint = TARGETS.find(([t]) => t === type)?.[2] ?? '';
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const body: Parameters<typeof client.holds.create>[0] = { target_type: type, target_value: value.trim() };
      if (reason.trim()) body.reason = reason.trim();
      onCreated(await client.holds.create(body));
      setValue('');
      setReason('');
    });
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="create-hold-title">
      <h2 id="create-hold-title">Place a hold</h2>
      <Field id="hold-type" label="Covers">
        <select id="hold-type" value={type} onChange={(e) => setType(e.currentTarget.value as Target)}>
          {TARGETS.map(([t, label]) => (
            <option key={t} value={t}>
              {label}
            </option>
          ))}
        </select>
      </Field>
      <Field id="hold-value" label="Id" hint={hint}>
        <input
          id="hold-value"
          required
          value={value}
          aria-describedby="hold-value-hint"
          autoComplete="off"
          onInput={(e) => setValue(e.currentTarget.value)}
        />
      </Field>
      <Field id="hold-reason" label="Reason" hint="For the people who will release it (a case or ticket number).">
        <textarea
          id="hold-reason"
          rows={3}
          maxLength={2000}
          value={reason}
          aria-describedby="hold-reason-hint"
          onInput={(e) => setReason(e.currentTarget.value)}
        />
      </Field>
      <ErrorBanner problem={problem} />
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Placing…' : 'Place hold'}
      </button>
    </form>
  );
}
