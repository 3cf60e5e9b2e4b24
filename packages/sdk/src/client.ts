import {
  Audit,
  Conversations,
  Holds,
  Jobs,
  Keys,
  Messages,
  Retention,
  ToolInvocations,
  Trash,
  Users,
  Webhooks,
  Workspaces,
} from './resources.js';
import { Streams } from './streams.js';
import { Exports, Imports } from './transfer.js';
import { type FetchLike, Transport } from './transport.js';

export interface ParleyOptions {
  /** Where Parley answers, e.g. `https://parley.internal` (no `/v1`). */
  baseUrl: string;
  /** A `prl_…` API key, sent as `Authorization: Bearer`. */
  apiKey: string;
  /** Another fetch (a proxy agent, a test double); default: the global one. */
  fetch?: FetchLike;
  /** Per-attempt timeout in ms; default 30 000. */
  timeoutMs?: number;
  /** Retries after the first attempt on 429, 503, `idempotency_in_progress`, network errors and timeouts; default 2. */
  maxRetries?: number;
  /** Sent as User-Agent where the runtime allows it (not in browsers). */
  userAgent?: string;
}

/** A client of Parley's native API. */
export class Parley {
  readonly conversations: Conversations;
  readonly messages: Messages;
  readonly toolInvocations: ToolInvocations;
  readonly keys: Keys;
  readonly workspaces: Workspaces;
  readonly audit: Audit;
  readonly trash: Trash;
  readonly holds: Holds;
  readonly webhooks: Webhooks;
  readonly streams: Streams;
  readonly exports: Exports;
  readonly imports: Imports;
  readonly jobs: Jobs;
  readonly users: Users;
  readonly retention: Retention;

  constructor(opts: ParleyOptions) {
    const t = new Transport(opts);
    this.conversations = new Conversations(t);
    this.messages = new Messages(t);
    this.toolInvocations = new ToolInvocations(t);
    this.keys = new Keys(t);
    this.workspaces = new Workspaces(t);
    this.audit = new Audit(t);
    this.trash = new Trash(t);
    this.holds = new Holds(t);
    this.webhooks = new Webhooks(t);
    this.streams = new Streams(t);
    this.exports = new Exports(t);
    this.imports = new Imports(t);
    this.jobs = new Jobs(t);
    this.users = new Users(t);
    this.retention = new Retention(t);
  }
}
