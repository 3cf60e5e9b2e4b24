import type {
  AuditReads,
  AuditWrites,
  ConversationReads,
  ConversationWrites,
  EventReads,
  EventWrites,
  HoldReads,
  HoldWrites,
  IdempotencyReads,
  IdempotencyWrites,
  JobReads,
  JobWrites,
  KeyReads,
  KeyWrites,
  LifecycleReads,
  MessageReads,
  MessageWrites,
  RetentionReads,
  RetentionWrites,
  ToolInvocationReads,
  ToolInvocationWrites,
  TrashReads,
  TrashWrites,
  WebhookReads,
  WebhookWrites,
  WorkspaceReader,
  WorkspaceWriter,
} from '../types.js';
import { AuditReader, AuditWriter } from './audit.js';
import type { Bound } from './bound.js';
import { ConversationsReader, ConversationsWriter } from './conversations.js';
import { EventsReader, EventsWriter } from './events.js';
import { HoldsReader, HoldsWriter } from './holds.js';
import { IdempotencyReader, IdempotencyWriter } from './idempotency.js';
import { JobsReader, JobsWriter } from './jobs.js';
import { KeysReader, KeysWriter } from './keys.js';
import { LifecycleReader, RetentionReader, RetentionWriter } from './lifecycle.js';
import { MessagesReader, MessagesWriter } from './messages.js';
import { ToolInvocationsReader, ToolInvocationsWriter } from './tool-invocations.js';
import { TrashReader, TrashWriter } from './trash.js';
import { WebhooksReader, WebhooksWriter } from './webhooks.js';

// One workspace's reader and writer: each aggregate's part is made on first use, so a read that
// touches one aggregate allocates one small object.

export class KyselyWorkspaceReader implements WorkspaceReader {
  #conversations?: ConversationReads;
  #messages?: MessageReads;
  #toolInvocations?: ToolInvocationReads;
  #keys?: KeyReads;
  #idempotency?: IdempotencyReads;
  #audit?: AuditReads;
  #events?: EventReads;
  #holds?: HoldReads;
  #trash?: TrashReads;
  #webhooks?: WebhookReads;
  #lifecycle?: LifecycleReads;
  #jobs?: JobReads;
  #retention?: RetentionReads;

  constructor(private readonly b: Bound) {}

  get workspaceId(): string {
    return this.b.ws;
  }
  get conversations(): ConversationReads {
    this.#conversations ??= new ConversationsReader(this.b);
    return this.#conversations;
  }
  get messages(): MessageReads {
    this.#messages ??= new MessagesReader(this.b);
    return this.#messages;
  }
  get toolInvocations(): ToolInvocationReads {
    this.#toolInvocations ??= new ToolInvocationsReader(this.b);
    return this.#toolInvocations;
  }
  get keys(): KeyReads {
    this.#keys ??= new KeysReader(this.b);
    return this.#keys;
  }
  get idempotency(): IdempotencyReads {
    this.#idempotency ??= new IdempotencyReader(this.b);
    return this.#idempotency;
  }
  get audit(): AuditReads {
    this.#audit ??= new AuditReader(this.b);
    return this.#audit;
  }
  get events(): EventReads {
    this.#events ??= new EventsReader(this.b);
    return this.#events;
  }
  get lifecycle(): LifecycleReads {
    this.#lifecycle ??= new LifecycleReader(this.b);
    return this.#lifecycle;
  }
  get holds(): HoldReads {
    this.#holds ??= new HoldsReader(this.b);
    return this.#holds;
  }
  get trash(): TrashReads {
    this.#trash ??= new TrashReader(this.b);
    return this.#trash;
  }
  get webhooks(): WebhookReads {
    this.#webhooks ??= new WebhooksReader(this.b);
    return this.#webhooks;
  }
  get jobs(): JobReads {
    this.#jobs ??= new JobsReader(this.b);
    return this.#jobs;
  }
  get retention(): RetentionReads {
    this.#retention ??= new RetentionReader(this.b);
    return this.#retention;
  }
}

export class KyselyWorkspaceWriter implements WorkspaceWriter {
  #conversations?: ConversationWrites;
  #messages?: MessageWrites;
  #toolInvocations?: ToolInvocationWrites;
  #keys?: KeyWrites;
  #idempotency?: IdempotencyWrites;
  #audit?: AuditWrites;
  #events?: EventWrites;
  #holds?: HoldWrites;
  #trash?: TrashWrites;
  #webhooks?: WebhookWrites;
  #lifecycle?: LifecycleReads;
  #jobs?: JobWrites;
  #retention?: RetentionWrites;

  constructor(private readonly b: Bound) {}

  get workspaceId(): string {
    return this.b.ws;
  }
  get conversations(): ConversationWrites {
    this.#conversations ??= new ConversationsWriter(this.b);
    return this.#conversations;
  }
  get messages(): MessageWrites {
    this.#messages ??= new MessagesWriter(this.b);
    return this.#messages;
  }
  get toolInvocations(): ToolInvocationWrites {
    this.#toolInvocations ??= new ToolInvocationsWriter(this.b);
    return this.#toolInvocations;
  }
  get keys(): KeyWrites {
    this.#keys ??= new KeysWriter(this.b);
    return this.#keys;
  }
  get idempotency(): IdempotencyWrites {
    this.#idempotency ??= new IdempotencyWriter(this.b);
    return this.#idempotency;
  }
  get audit(): AuditWrites {
    this.#audit ??= new AuditWriter(this.b);
    return this.#audit;
  }
  get events(): EventWrites {
    this.#events ??= new EventsWriter(this.b);
    return this.#events;
  }
  get holds(): HoldWrites {
    this.#holds ??= new HoldsWriter(this.b);
    return this.#holds;
  }
  get trash(): TrashWrites {
    this.#trash ??= new TrashWriter(this.b);
    return this.#trash;
  }
  get webhooks(): WebhookWrites {
    this.#webhooks ??= new WebhooksWriter(this.b);
    return this.#webhooks;
  }
  get lifecycle(): LifecycleReads {
    this.#lifecycle ??= new LifecycleReader(this.b);
    return this.#lifecycle;
  }
  get jobs(): JobWrites {
    this.#jobs ??= new JobsWriter(this.b);
    return this.#jobs;
  }
  get retention(): RetentionWrites {
    this.#retention ??= new RetentionWriter(this.b);
    return this.#retention;
  }
}
