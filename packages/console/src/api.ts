import { type ErrorDetail, Parley, ParleyConnectionError, ParleyError, type ResultOf, type Schemas } from '@parley/sdk';

export type {
  ApiKey,
  AuditEvent,
  Conversation,
  Message,
  StreamEvent,
  ToolInvocation,
  Workspace,
} from '@parley/sdk';
export { Parley };
export type Hold = ResultOf<'/v1/holds/{id}', 'get'>['data'];
export type Trashed = ResultOf<'/v1/trash', 'get'>['data'][number];
export type Webhook = Schemas['Webhook'];
export type Job = Schemas['Job'];
export type RetentionPolicy = ResultOf<'/v1/retention', 'get'>['data'];
export type RetentionRule = NonNullable<RetentionPolicy['default']>;
export type DryRun = ResultOf<'/v1/retention/run', 'post'>['data'];
export type WebhookDelivery = Schemas['WebhookDelivery'];

// The key lives in this tab's sessionStorage only: never in a URL, a cookie or localStorage, and it
// is gone when the tab closes. The console never logs it.
const KEY_ITEM = 'parley.console.key';
const ADMIN_ITEM = 'parley.console.admin';

export interface Session {
  key: string;
  /** Whether the key may manage keys, holds, webhooks and settings and read the audit log (the admin scope). */
  admin: boolean;
}

export function loadSession(): Session | null {
  try {
    const key = sessionStorage.getItem(KEY_ITEM);
    return key ? { key, admin: sessionStorage.getItem(ADMIN_ITEM) === 'true' } : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(KEY_ITEM, s.key);
  sessionStorage.setItem(ADMIN_ITEM, String(s.admin));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY_ITEM);
  sessionStorage.removeItem(ADMIN_ITEM);
}

export function makeClient(key: string): Parley {
  return new Parley({ baseUrl: location.origin, apiKey: key });
}

/** What the page shows of a failure: the catalog's message and code, and the request id. */
export interface Problem {
  message: string;
  code?: string | undefined;
  requestId?: string | undefined;
  details?: ErrorDetail[] | undefined;
}

export function toProblem(e: unknown): Problem {
  if (e instanceof ParleyError) {
    return { message: e.message, code: e.code, requestId: e.requestId, details: e.details };
  }
  if (e instanceof ParleyConnectionError) return { message: `The server did not answer: ${e.message}` };
  if (e instanceof Error) return { message: e.message };
  return { message: String(e) };
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

/** Checks a key: it must list conversations; whether it may also list keys decides the admin screens. */
export async function signIn(key: string): Promise<Session> {
  const client = makeClient(key);
  await client.conversations.list({ per_page: 1 }).page();
  let admin = true;
  try {
    await client.keys.list();
  } catch (e) {
    if (!(e instanceof ParleyError && e.code === 'insufficient_permissions')) throw e;
    admin = false;
  }
  return { key, admin };
}
