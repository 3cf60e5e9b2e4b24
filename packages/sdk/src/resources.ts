import { Paginated } from './pages.js';
import type { Transport } from './transport.js';
import type { BodyOf, CallOptions, QueryOf, ResultOf, WriteOptions } from './types.js';

type Q = Record<string, string | number | boolean | null | undefined>;
const enc = encodeURIComponent;

type ConversationList = ResultOf<'/v1/conversations', 'get'>;
type MessageList = ResultOf<'/v1/conversations/{id}/messages', 'get'>;
type ToolList = ResultOf<'/v1/conversations/{id}/tool-invocations', 'get'>;
type AuditList = ResultOf<'/v1/audit-events', 'get'>;
type WorkspaceList = ResultOf<'/v1/workspaces', 'get'>;
type TrashList = ResultOf<'/v1/trash', 'get'>;
type HoldList = ResultOf<'/v1/holds', 'get'>;
type JobList = ResultOf<'/v1/jobs', 'get'>;
type Job = ResultOf<'/v1/jobs/{job_id}', 'get'>['data'];

abstract class Resource {
  constructor(protected readonly t: Transport) {}

  protected async fetchJson<T>(path: string, query: object | undefined, opts: CallOptions): Promise<T> {
    return (await this.t.request<T>({ method: 'GET', path, query: query as Q | undefined }, opts)).data;
  }

  protected async send<T>(
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body: unknown,
    opts: WriteOptions,
    query?: object,
  ): Promise<T> {
    return (await this.t.request<T>({ method, path, body, query: query as Q | undefined }, opts)).data;
  }

  protected paged<T, P extends { data: T[]; meta: { next_cursor: string | null } }>(
    path: string,
    params: object,
    opts: CallOptions,
  ): Paginated<T, P> {
    return new Paginated<T, P>(params as Record<string, unknown>, opts, (p, o) => this.fetchJson<P>(path, p, o));
  }
}

export class Conversations extends Resource {
  async create(body: BodyOf<'/v1/conversations', 'post'>, opts: WriteOptions = {}) {
    return (await this.send<ResultOf<'/v1/conversations', 'post'>>('POST', '/v1/conversations', body, opts)).data;
  }

  /**
   * Conversations, newest activity first by default; `for await` over it walks every page.
   * `.pages()` gives the pages with `meta.total` / `meta.total_exact`.
   */
  list(params: QueryOf<'/v1/conversations', 'get'> = {}, opts: CallOptions = {}) {
    return this.list_<ConversationList>(params, opts);
  }

  /** `list` with `search`: every word must match; each item carries `match`. */
  search(query: string, params: Omit<QueryOf<'/v1/conversations', 'get'>, 'search'> = {}, opts: CallOptions = {}) {
    return this.list_<ConversationList>({ ...params, search: query }, opts);
  }

  async get(id: string, params: QueryOf<'/v1/conversations/{id}', 'get'> = {}, opts: CallOptions = {}) {
    const r = await this.fetchJson<ResultOf<'/v1/conversations/{id}', 'get'>>(
      `/v1/conversations/${enc(id)}`,
      params,
      opts,
    );
    return r.data;
  }

  async update(id: string, body: BodyOf<'/v1/conversations/{id}', 'patch'>, opts: WriteOptions = {}) {
    const r = await this.send<ResultOf<'/v1/conversations/{id}', 'patch'>>(
      'PATCH',
      `/v1/conversations/${enc(id)}`,
      body,
      opts,
    );
    return r.data;
  }

  /** Deletes it with everything it holds; `force` also closes its live streams. */
  async delete(id: string, params: QueryOf<'/v1/conversations/{id}', 'delete'> = {}, opts: WriteOptions = {}) {
    await this.send<undefined>('DELETE', `/v1/conversations/${enc(id)}`, undefined, opts, params);
  }

  /**
   * Deletes up to 1,000 at once, a result per id (deleted, not_found, held). Atomic by default: a
   * held id makes it delete nothing (ParleyError legal_hold); `atomic: false` deletes what it can.
   */
  async bulkDelete(body: BodyOf<'/v1/conversations/bulk-delete', 'post'>, opts: WriteOptions = {}) {
    return this.send<ResultOf<'/v1/conversations/bulk-delete', 'post'>>(
      'POST',
      '/v1/conversations/bulk-delete',
      body,
      opts,
    );
  }

  /** Brings it back from the trash within its window (not_found after). */
  async restore(id: string, opts: WriteOptions = {}) {
    const r = await this.send<ResultOf<'/v1/conversations/{id}/restore', 'post'>>(
      'POST',
      `/v1/conversations/${enc(id)}/restore`,
      undefined,
      opts,
    );
    return r.data;
  }

  private list_<P extends ConversationList>(params: object, opts: CallOptions) {
    return this.paged<P['data'][number], P>('/v1/conversations', params, opts);
  }
}

export class Messages extends Resource {
  async append(
    conversationId: string,
    body: BodyOf<'/v1/conversations/{id}/messages', 'post'>,
    opts: WriteOptions = {},
  ) {
    const r = await this.send<ResultOf<'/v1/conversations/{id}/messages', 'post'>>(
      'POST',
      `/v1/conversations/${enc(conversationId)}/messages`,
      body,
      opts,
    );
    return r.data;
  }

  /** Oldest first by default; `for await` walks every page. */
  list(conversationId: string, params: QueryOf<'/v1/conversations/{id}/messages', 'get'> = {}, opts: CallOptions = {}) {
    return this.paged<MessageList['data'][number], MessageList>(
      `/v1/conversations/${enc(conversationId)}/messages`,
      params,
      opts,
    );
  }
}

export class ToolInvocations extends Resource {
  async create(
    conversationId: string,
    body: BodyOf<'/v1/conversations/{id}/tool-invocations', 'post'>,
    opts: WriteOptions = {},
  ) {
    const r = await this.send<ResultOf<'/v1/conversations/{id}/tool-invocations', 'post'>>(
      'POST',
      `/v1/conversations/${enc(conversationId)}/tool-invocations`,
      body,
      opts,
    );
    return r.data;
  }

  list(
    conversationId: string,
    params: QueryOf<'/v1/conversations/{id}/tool-invocations', 'get'> = {},
    opts: CallOptions = {},
  ) {
    return this.paged<ToolList['data'][number], ToolList>(
      `/v1/conversations/${enc(conversationId)}/tool-invocations`,
      params,
      opts,
    );
  }

  async get(conversationId: string, toolId: string, opts: CallOptions = {}) {
    const r = await this.fetchJson<ResultOf<'/v1/conversations/{id}/tool-invocations/{tool_id}', 'get'>>(
      `/v1/conversations/${enc(conversationId)}/tool-invocations/${enc(toolId)}`,
      undefined,
      opts,
    );
    return r.data;
  }

  async update(
    conversationId: string,
    toolId: string,
    body: BodyOf<'/v1/conversations/{id}/tool-invocations/{tool_id}', 'patch'>,
    opts: WriteOptions = {},
  ) {
    const r = await this.send<ResultOf<'/v1/conversations/{id}/tool-invocations/{tool_id}', 'patch'>>(
      'PATCH',
      `/v1/conversations/${enc(conversationId)}/tool-invocations/${enc(toolId)}`,
      body,
      opts,
    );
    return r.data;
  }
}

export class Keys extends Resource {
  /** The answer's `secret` is the only time the key is shown (null on an idempotent replay). */
  async create(body: BodyOf<'/v1/keys', 'post'>, opts: WriteOptions = {}) {
    return (await this.send<ResultOf<'/v1/keys', 'post'>>('POST', '/v1/keys', body, opts)).data;
  }

  async list(opts: CallOptions = {}) {
    return (await this.fetchJson<ResultOf<'/v1/keys', 'get'>>('/v1/keys', undefined, opts)).data;
  }

  async get(id: string, opts: CallOptions = {}) {
    return (await this.fetchJson<ResultOf<'/v1/keys/{id}', 'get'>>(`/v1/keys/${enc(id)}`, undefined, opts)).data;
  }

  async revoke(id: string, opts: WriteOptions = {}) {
    return (await this.send<ResultOf<'/v1/keys/{id}', 'delete'>>('DELETE', `/v1/keys/${enc(id)}`, undefined, opts))
      .data;
  }
}

export class Workspaces extends Resource {
  /** Instance admin key only; the answer holds the new workspace's first admin key. */
  async create(body: BodyOf<'/v1/workspaces', 'post'>, opts: WriteOptions = {}) {
    return (await this.send<ResultOf<'/v1/workspaces', 'post'>>('POST', '/v1/workspaces', body, opts)).data;
  }

  list(params: QueryOf<'/v1/workspaces', 'get'> = {}, opts: CallOptions = {}) {
    return this.paged<WorkspaceList['data'][number], WorkspaceList>('/v1/workspaces', params, opts);
  }

  async get(id: string, opts: CallOptions = {}) {
    return (await this.fetchJson<ResultOf<'/v1/workspaces/{id}', 'get'>>(`/v1/workspaces/${enc(id)}`, undefined, opts))
      .data;
  }

  async update(id: string, body: BodyOf<'/v1/workspaces/{id}', 'patch'>, opts: WriteOptions = {}) {
    return (await this.send<ResultOf<'/v1/workspaces/{id}', 'patch'>>('PATCH', `/v1/workspaces/${enc(id)}`, body, opts))
      .data;
  }

  /** The key's own workspace with its settings (trash_days). */
  async current(opts: CallOptions = {}) {
    return (await this.fetchJson<ResultOf<'/v1/workspace', 'get'>>('/v1/workspace', undefined, opts)).data;
  }

  /** Changes the key's own workspace settings: `trash_days` (0: deletes erase at once). */
  async updateCurrent(body: BodyOf<'/v1/workspace', 'patch'>, opts: WriteOptions = {}) {
    return (await this.send<ResultOf<'/v1/workspace', 'patch'>>('PATCH', '/v1/workspace', body, opts)).data;
  }
}

export class Trash extends Resource {
  /** Conversations in the trash; `for await` walks every page. */
  list(params: QueryOf<'/v1/trash', 'get'> = {}, opts: CallOptions = {}) {
    return this.paged<TrashList['data'][number], TrashList>('/v1/trash', params, opts);
  }

  /** Erases now what is due (`all: true`: everything in the trash); held conversations stay. */
  async purge(body: BodyOf<'/v1/trash/purge', 'post'> = {}, opts: WriteOptions = {}) {
    return (await this.send<ResultOf<'/v1/trash/purge', 'post'>>('POST', '/v1/trash/purge', body, opts)).data;
  }
}

export class Holds extends Resource {
  async create(body: BodyOf<'/v1/holds', 'post'>, opts: WriteOptions = {}) {
    return (await this.send<ResultOf<'/v1/holds', 'post'>>('POST', '/v1/holds', body, opts)).data;
  }

  /** Active holds (`include_released: 'true'` for all); `for await` walks every page. */
  list(params: QueryOf<'/v1/holds', 'get'> = {}, opts: CallOptions = {}) {
    return this.paged<HoldList['data'][number], HoldList>('/v1/holds', params, opts);
  }

  async get(id: string, opts: CallOptions = {}) {
    return (await this.fetchJson<ResultOf<'/v1/holds/{id}', 'get'>>(`/v1/holds/${enc(id)}`, undefined, opts)).data;
  }

  async release(id: string, opts: WriteOptions = {}) {
    return (
      await this.send<ResultOf<'/v1/holds/{id}/release', 'post'>>(
        'POST',
        `/v1/holds/${enc(id)}/release`,
        undefined,
        opts,
      )
    ).data;
  }
}

export class Audit extends Resource {
  /** Newest first by default; `for await` walks every page. */
  list(params: QueryOf<'/v1/audit-events', 'get'> = {}, opts: CallOptions = {}) {
    return this.paged<AuditList['data'][number], AuditList>('/v1/audit-events', params, opts);
  }
}

type WebhookList = ResultOf<'/v1/webhooks', 'get'>;
type DeliveryList = ResultOf<'/v1/webhooks/{id}/deliveries', 'get'>;

export class Webhooks extends Resource {
  /** The answer's `secret` (`whsec_…`) is the only time it is shown (null on an idempotent replay). */
  async create(body: BodyOf<'/v1/webhooks', 'post'>, opts: WriteOptions = {}) {
    return (await this.send<ResultOf<'/v1/webhooks', 'post'>>('POST', '/v1/webhooks', body, opts)).data;
  }

  list(params: QueryOf<'/v1/webhooks', 'get'> = {}, opts: CallOptions = {}) {
    return this.paged<WebhookList['data'][number], WebhookList>('/v1/webhooks', params, opts);
  }

  async get(id: string, opts: CallOptions = {}) {
    return (await this.fetchJson<ResultOf<'/v1/webhooks/{id}', 'get'>>(`/v1/webhooks/${enc(id)}`, undefined, opts))
      .data;
  }

  async update(id: string, body: BodyOf<'/v1/webhooks/{id}', 'patch'>, opts: WriteOptions = {}) {
    return (await this.send<ResultOf<'/v1/webhooks/{id}', 'patch'>>('PATCH', `/v1/webhooks/${enc(id)}`, body, opts))
      .data;
  }

  async delete(id: string, opts: WriteOptions = {}): Promise<void> {
    await this.send<unknown>('DELETE', `/v1/webhooks/${enc(id)}`, undefined, opts);
  }

  /** A new secret, shown once; the old one keeps signing (a second signature) for the overlap window. */
  async rotateSecret(id: string, opts: WriteOptions = {}) {
    const path = `/v1/webhooks/${enc(id)}/rotate-secret`;
    return (await this.send<ResultOf<'/v1/webhooks/{id}/rotate-secret', 'post'>>('POST', path, undefined, opts)).data;
  }

  /** The endpoint's deliveries, newest first; `for await` walks every page. */
  deliveries(id: string, params: QueryOf<'/v1/webhooks/{id}/deliveries', 'get'> = {}, opts: CallOptions = {}) {
    return this.paged<DeliveryList['data'][number], DeliveryList>(`/v1/webhooks/${enc(id)}/deliveries`, params, opts);
  }

  async retryDelivery(id: string, deliveryId: string, opts: WriteOptions = {}) {
    const path = `/v1/webhooks/${enc(id)}/deliveries/${enc(deliveryId)}/retry`;
    type R = ResultOf<'/v1/webhooks/{id}/deliveries/{delivery_id}/retry', 'post'>;
    return (await this.send<R>('POST', path, undefined, opts)).data;
  }
}

export class Jobs extends Resource {
  async get(id: string, opts: CallOptions = {}) {
    return (await this.fetchJson<ResultOf<'/v1/jobs/{job_id}', 'get'>>(`/v1/jobs/${enc(id)}`, undefined, opts)).data;
  }

  /** Newest first; `for await` walks every page. */
  list(params: QueryOf<'/v1/jobs', 'get'> = {}, opts: CallOptions = {}) {
    return this.paged<JobList['data'][number], JobList>('/v1/jobs', params, opts);
  }

  /** Deletes an erase job's export file before it expires. */
  async deleteExport(id: string, opts: WriteOptions = {}): Promise<void> {
    await this.send<unknown>('DELETE', `/v1/jobs/${enc(id)}/export`, undefined, opts);
  }

  /** Polls the job until it has succeeded or failed (every `intervalMs`, at most `timeoutMs`); returns it. */
  async wait(id: string, opts: CallOptions & { intervalMs?: number; timeoutMs?: number } = {}): Promise<Job> {
    const { intervalMs = 500, timeoutMs = 10 * 60_000, ...call } = opts;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.get(id, call);
      if (job.state === 'succeeded' || job.state === 'failed') return job;
      if (Date.now() + intervalMs > deadline) throw new Error(`job ${id} is still ${job.state} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

export class Users extends Resource {
  /**
   * Queues the erasure of every conversation of the user (admin key, not bound to a user): the
   * answer is the job; `jobs.wait(job.id)` gives its receipt. 409 legal_hold when anything is held.
   * With `exportFirst`, the job first writes a JSONL export of the user (`exports.eraseExport(job.id)`).
   */
  async erase(userId: string, params: { exportFirst?: boolean } = {}, opts: WriteOptions = {}) {
    const body = params.exportFirst ? { export_first: true } : {};
    const path = `/v1/users/${enc(userId)}/erase`;
    return (await this.send<ResultOf<'/v1/users/{user_id}/erase', 'post'>>('POST', path, body, opts)).data;
  }
}

export class Retention extends Resource {
  async get(opts: CallOptions = {}) {
    return (await this.fetchJson<ResultOf<'/v1/retention', 'get'>>('/v1/retention', undefined, opts)).data;
  }

  /** Replaces the policy; one without any rule removes it. */
  async put(body: BodyOf<'/v1/retention', 'put'>, opts: WriteOptions = {}) {
    return (await this.send<ResultOf<'/v1/retention', 'put'>>('PUT', '/v1/retention', body, opts)).data;
  }

  /**
   * Enforces the policy now (a job); with `{ dryRun: true }`, what it would do, changing nothing;
   * with `{ dryRun: true, policy }`, what that policy would do, without saving it.
   */
  async run(params: { dryRun?: boolean; policy?: BodyOf<'/v1/retention', 'put'> } = {}, opts: WriteOptions = {}) {
    const query = params.dryRun ? { dry_run: true } : undefined;
    const body = params.policy ? { policy: params.policy } : {};
    return (await this.send<{ data: unknown }>('POST', '/v1/retention/run', body, opts, query)).data as
      | ResultOf<'/v1/retention/run', 'post'>['data']
      | Job;
  }
}
