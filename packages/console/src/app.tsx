import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  clearSession,
  loadSession,
  makeClient,
  type Problem,
  type Session,
  saveSession,
  signIn,
  toProblem,
  type Workspace,
} from './api.js';
import { Ctx } from './context.js';
import { href, type Route, useRoute } from './router.js';
import { AuditScreen } from './screens/audit.js';
import { ConversationScreen } from './screens/conversation.js';
import { ConversationsScreen } from './screens/conversations.js';
import { EraseScreen } from './screens/erase.js';
import { HoldsScreen } from './screens/holds.js';
import { KeysScreen } from './screens/keys.js';
import { RetentionScreen } from './screens/retention.js';
import { SettingsScreen } from './screens/settings.js';
import { TrashScreen } from './screens/trash.js';
import { WebhooksScreen } from './screens/webhooks.js';
import { ErrorBanner, Field } from './ui.js';

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  if (!session) {
    return (
      <SignIn
        onSignedIn={(s) => {
          saveSession(s);
          setSession(s);
        }}
      />
    );
  }
  return (
    <Shell
      session={session}
      onSignOut={() => {
        clearSession();
        setSession(null);
      }}
    />
  );
}

function Brand() {
  return (
    <span class="brand">
      <svg viewBox="0 0 40 40" width="28" height="28" aria-hidden="true" focusable="false">
        <path d="M6 4h28a6 6 0 0 1 6 6v14a6 6 0 0 1-6 6H18l-8 7v-7H6a6 6 0 0 1-6-6V10a6 6 0 0 1 6-6z" fill="#2f9e6e" />
        <circle cx="12" cy="17" r="3" fill="#fff" />
        <circle cx="20" cy="17" r="3" fill="#fff" />
        <circle cx="28" cy="17" r="3" fill="#fff" />
      </svg>
      <span>Parley</span>
    </span>
  );
}

function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const k = key.trim();
    if (!k) {
      setProblem({ message: 'Paste an API key (it starts with prl_).' });
      return;
    }
    setBusy(true);
    setProblem(null);
    try {
      onSignedIn(await signIn(k));
    } catch (err) {
      setProblem(toProblem(err));
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <div class="signin-card">
        <Brand />
        <h1>Sign in to the console</h1>
        <p class="muted">
          Paste an API key of your workspace: the first start of the server prints an admin key. The key stays in this
          browser tab only and is forgotten when the tab closes.
        </p>
        <form onSubmit={submit} novalidate>
          <Field id="api-key" label="API key">
            <input
              id="api-key"
              name="api-key"
              type="password"
              autoComplete="off"
              spellcheck={false}
              value={key}
              onInput={(e) => setKey(e.currentTarget.value)}
              placeholder="prl_…"
            />
          </Field>
          <ErrorBanner problem={problem} />
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Checking…' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const route = useRoute();
  const client = useMemo(() => makeClient(session.key), [session.key]);
  const [note, setNote] = useState('');
  const [workspace, setWorkspace] = useState<Workspace | null>(null);
  // the workspace's settings (trash_days) are readable by admin keys only
  useEffect(() => {
    if (!session.admin) return;
    client.workspaces.current().then(setWorkspace, () => undefined);
  }, [client, session.admin]);
  const ctx = useMemo(
    () => ({ client, session, announce: setNote, signOut: onSignOut, workspace, setWorkspace }),
    [client, session, workspace],
  );
  // the trash is readable with read:ai; holds, retention, erasure, webhooks, keys, audit and settings need admin
  const nav: Array<[string, string, Route['name'][]]> = [
    ['Conversations', href.conversations, ['conversations', 'conversation']],
    ['Trash', href.trash, ['trash']],
  ];
  if (session.admin) {
    nav.push(
      ['Legal holds', href.holds, ['holds']],
      ['Retention', href.retention, ['retention']],
      ['Erase a user', href.erase, ['erase']],
      ['Webhooks', href.webhooks, ['webhooks']],
      ['API keys', href.keys, ['keys']],
      ['Audit log', href.audit, ['audit']],
      ['Settings', href.settings, ['settings']],
    );
  }
  return (
    <Ctx.Provider value={ctx}>
      <button type="button" class="skip" onClick={skipToMain}>
        Skip to content
      </button>
      <header class="topbar">
        <a class="home" href={href.conversations}>
          <Brand />
          <span class="product">console</span>
        </a>
        <nav aria-label="Main">
          <ul>
            {nav.map(([label, to, names]) => (
              <li key={to}>
                {/* a screen chosen from the menu starts without the last screen's status line */}
                <a href={to} aria-current={names.includes(route.name) ? 'page' : undefined} onClick={() => setNote('')}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="ghost signout" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <p class="announce" role="status" aria-live="polite">
        {note}
      </p>
      <main id="main" tabIndex={-1}>
        <Screen route={route} key={route.name === 'conversation' ? route.id : route.name} />
      </main>
    </Ctx.Provider>
  );
}

// the fragment holds the screen, so skipping moves focus instead of linking to #main
function skipToMain() {
  document.getElementById('main')?.focus();
}

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case 'conversation':
      return <ConversationScreen id={route.id} />;
    case 'keys':
      return <KeysScreen />;
    case 'audit':
      return <AuditScreen />;
    case 'trash':
      return <TrashScreen />;
    case 'holds':
      return <HoldsScreen />;
    case 'webhooks':
      return <WebhooksScreen />;
    case 'retention':
      return <RetentionScreen />;
    case 'erase':
      return <EraseScreen />;
    case 'settings':
      return <SettingsScreen />;
    default:
      return <ConversationsScreen />;
  }
}
