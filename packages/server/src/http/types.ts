import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { AuthContext, Scope } from '../domain/types.js';
import type { Metrics } from '../metrics.js';
import type { RateLimiter } from '../rate-limit.js';
import type { Realtime } from '../realtime/index.js';
import type { AuditService } from '../services/audit.js';
import type { CompatService } from '../services/compat.js';
import type { ConversationsService } from '../services/conversations.js';
import type { UsersService } from '../services/erase.js';
import type { EventsService } from '../services/events.js';
import type { HoldsService } from '../services/holds.js';
import type { IdempotencyService } from '../services/idempotency.js';
import type { JobsService } from '../services/jobs.js';
import type { KeysService } from '../services/keys.js';
import type { MessagesService } from '../services/messages.js';
import type { RetentionService } from '../services/retention.js';
import type { ToolInvocationsService } from '../services/tool-invocations.js';
import type { Traffic } from '../services/traffic.js';
import type { TrashService } from '../services/trash.js';
import type { WebhooksService } from '../services/webhooks.js';
import type { WorkspacesService } from '../services/workspaces.js';
import type { Store, WorkspaceWriter } from '../store/types.js';

/** What the HTTP layer is built from: configuration, the store and the services routes call. */
export interface AppDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  store: Store;
  limiter: RateLimiter;
  metrics: Metrics;
  keys: KeysService;
  workspaces: WorkspacesService;
  conversations: ConversationsService;
  messages: MessagesService;
  toolInvocations: ToolInvocationsService;
  audit: AuditService;
  events: EventsService;
  /** Use cases only a compatible surface needs (each names its product). */
  compat: CompatService;
  trash: TrashService;
  holds: HoldsService;
  webhooks: WebhooksService;
  idempotency: IdempotencyService;
  jobs: JobsService;
  users: UsersService;
  retention: RetentionService;
  /** Live streams (WebSocket, SSE, presence); absent in tools that serve no HTTP streams. */
  realtime?: Realtime;
  /** Request traffic, marked by the metrics hooks (services/traffic.ts). */
  traffic?: Traffic;
  /** Extra readiness facts (e.g. Redis fallback) for /readyz. */
  readiness?: () => Promise<Record<string, unknown>>;
}

/** What a route declares about itself. */
export interface RouteAccess {
  /** Scope the key needs; 'public' routes need no key and are never rate limited. */
  scope?: Scope | 'public' | 'authenticated';
  /** Where the key arrives: `Authorization: Bearer` (default) or a compat product's `X-API-Key`. */
  keyHeader?: 'bearer' | 'x-api-key';
}

/**
 * A write under an Idempotency-Key, begun by the idempotency hook: `complete` stores the answer
 * in the write's own transaction; `sealed` once the key is completed or released.
 */
export interface IdempotentWrite {
  key: string;
  fingerprint: string;
  sealed: boolean;
  complete(tx: WorkspaceWriter, status: number, body: string | null, result: unknown): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
    idem: IdempotentWrite | null;
  }
  interface FastifyContextConfig {
    scope?: RouteAccess['scope'];
    keyHeader?: RouteAccess['keyHeader'];
  }
}

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  import('fastify').FastifyBaseLogger,
  TypeBoxTypeProvider
>;
