import { useEffect, useState } from 'preact/hooks';
import { type ApiKey, type Problem, toProblem } from '../api.js';
import { useConsole } from '../context.js';
import { dayBound, when } from '../format.js';
import { Confirm, ErrorBanner, Field, PageTitle, ShownOnce, TableHead, useAction } from '../ui.js';

type Scope = ApiKey['scopes'][number];
const SCOPES: Array<[Scope, string]> = [
  ['read:ai', 'read conversations, messages and tool steps'],
  ['write:ai', 'create, change and delete them'],
  ['admin', 'everything, plus keys and the audit log'],
];

function keyState(k: ApiKey): 'revoked' | 'expired' | 'active' {
  if (k.revoked_at) return 'revoked';
  if (k.expires_at && Date.parse(k.expires_at) <= Date.now()) return 'expired';
  return 'active';
}

export function KeysScreen() {
  const { client, session, announce, signOut } = useConsole();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [created, setCreated] = useState<{ key: ApiKey; secret: string | null } | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  const reload = async () => {
    try {
      setKeys(await client.keys.list());
      setProblem(null);
    } catch (e) {
      setProblem(toProblem(e));
    }
  };
  useEffect(() => {
    void reload();
  }, []);

  const own = (k: ApiKey) => session.key.startsWith(k.prefix);
  return (
    <section class="screen">
      <div class="screen-head">
        <PageTitle>API keys</PageTitle>
        <p class="total">{keys ? `${keys.filter((k) => keyState(k) === 'active').length} active` : ' '}</p>
      </div>
      <ErrorBanner problem={problem} />
      {created ? (
        <ShownOnce
          title={`Copy the key “${created.key.name}” now`}
          secret={created.secret}
          kept="Parley keeps a hash, never the key."
          onDone={() => setCreated(null)}
        />
      ) : null}

      <div class="keys-layout">
        <div>
          <h2>Keys of this workspace</h2>
          {keys === null && !problem ? <p class="muted">Loading…</p> : null}
          {keys && keys.length === 0 ? <p class="empty">No keys.</p> : null}
          {keys && keys.length > 0 ? (
            <table class="table">
              <TableHead
                caption="API keys"
                columns={['Name', 'Prefix', 'Scopes', 'User', 'Last used', 'State']}
                actions
              />
              <tbody>
                {keys.map((k) => {
                  const state = keyState(k);
                  return (
                    <tr key={k.id} class={state === 'active' ? '' : 'inactive'}>
                      <td data-label="Name">
                        <span>
                          {k.name}
                          {own(k) ? <span class="badge">this session</span> : null}
                        </span>
                      </td>
                      <td data-label="Prefix">
                        <code class="nowrap">{k.prefix}…</code>
                      </td>
                      <td data-label="Scopes">{k.scopes.join(', ')}</td>
                      <td data-label="User">{k.user_id ?? '—'}</td>
                      <td data-label="Last used">{when(k.last_used_at)}</td>
                      <td data-label="State">
                        <span class={`state ${state}`}>
                          {state === 'revoked' ? `revoked ${when(k.revoked_at)}` : state}
                        </span>
                      </td>
                      <td data-label="Actions">
                        {state === 'active' && !k.instance_admin ? (
                          <button
                            type="button"
                            class="danger small"
                            aria-label={`Revoke ${k.name}`}
                            onClick={() => setRevoking(k)}
                          >
                            Revoke…
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          ) : null}
        </div>
        <CreateKey
          onCreated={(c) => {
            setCreated(c);
            announce(`Created key ${c.key.name}.`);
            void reload();
          }}
        />
      </div>

      {revoking ? (
        <RevokeDialog
          apiKey={revoking}
          own={own(revoking)}
          onClose={(done) => {
            setRevoking(null);
            if (done && own(revoking)) signOut();
            else if (done) {
              announce(`Revoked key ${revoking.name}.`);
              void reload();
            }
          }}
        />
      ) : null}
    </section>
  );
}

function CreateKey({ onCreated }: { onCreated: (c: { key: ApiKey; secret: string | null }) => void }) {
  const { client } = useConsole();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['read:ai']);
  const [userId, setUserId] = useState('');
  const [expires, setExpires] = useState('');
  const { busy, problem, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const body: Parameters<typeof client.keys.create>[0] = { name: name.trim(), scopes };
      if (userId.trim()) body.user_id = userId.trim();
      const exp = dayBound(expires);
      if (exp) body.expires_at = exp;
      const r = await client.keys.create(body);
      onCreated(r);
      setName('');
      setUserId('');
      setExpires('');
    });
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="create-key-title">
      <h2 id="create-key-title">Create a key</h2>
      <Field id="key-name" label="Name">
        <input id="key-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <fieldset class="scopes">
        <legend>Scopes</legend>
        {SCOPES.map(([s, what]) => (
          <label class="check" key={s}>
            <input
              type="checkbox"
              checked={scopes.includes(s)}
              onChange={(e) =>
                setScopes((prev) => (e.currentTarget.checked ? [...prev, s] : prev.filter((x) => x !== s)))
              }
            />
            <span>
              <code>{s}</code> <span class="muted">{what}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <Field id="key-user" label="Bind to user id (optional)" hint="A bound key sees only that user's conversations.">
        <input
          id="key-user"
          value={userId}
          aria-describedby="key-user-hint"
          onInput={(e) => setUserId(e.currentTarget.value)}
        />
      </Field>
      <Field id="key-expires" label="Expires on (optional, UTC)">
        <input id="key-expires" type="date" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
      </Field>
      <ErrorBanner problem={problem} />
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create key'}
      </button>
    </form>
  );
}

function RevokeDialog(props: { apiKey: ApiKey; own: boolean; onClose: (done: boolean) => void }) {
  const { client } = useConsole();
  const k = props.apiKey;
  return (
    <Confirm
      title={`Revoke “${k.name}”?`}
      action="Revoke key"
      onConfirm={async () => {
        await client.keys.revoke(k.id);
      }}
      onClose={props.onClose}
    >
      <p>
        Requests with <code>{k.prefix}…</code> fail with <code>invalid_key</code> from now on. This cannot be undone.
      </p>
      {props.own ? <p class="warn">This is the key this console is signed in with: you will be signed out.</p> : null}
    </Confirm>
  );
}
