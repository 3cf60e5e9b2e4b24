// Request and response types of the native API, picked from the generated `paths` interface.
import type { components, paths } from './generated/openapi.js';

export type { components, paths };
export type Schemas = components['schemas'];
export type Conversation = Schemas['Conversation'];
export type Message = Schemas['Message'];
export type ToolInvocation = Schemas['ToolInvocation'];
export type ApiKey = Schemas['ApiKey'];
export type Workspace = Schemas['Workspace'];
export type AuditEvent = Schemas['AuditEvent'];
export type ErrorBody = Schemas['Error'];
/** Every code of the server's error catalog, as the spec's Error schema lists them. */
export type ErrorCode = ErrorBody['error']['code'];

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

/** The JSON body an operation accepts. */
export type BodyOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

/** The query parameters an operation accepts (all optional in the native API). */
export type QueryOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** The JSON body of the operation's success answer (200, 201 or 202). */
export type ResultOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { responses: { 200: { content: { 'application/json': infer T } } } }
    ? T
    : Operation<P, M> extends { responses: { 201: { content: { 'application/json': infer T } } } }
      ? T
      : Operation<P, M> extends { responses: { 202: { content: { 'application/json': infer T } } } }
        ? T
        : never;

/** Options every call accepts. */
export interface CallOptions {
  /** Aborts the call, its retries and the waits between them. */
  signal?: AbortSignal;
  /** Per-attempt timeout in ms (default: the client's `timeoutMs`). */
  timeoutMs?: number;
  /** Retries after the first attempt (default: the client's `maxRetries`). */
  maxRetries?: number;
}

/** Options of a write (POST, PUT, PATCH, DELETE). */
export interface WriteOptions extends CallOptions {
  /** Sent as `Idempotency-Key` on every attempt of this call; default: one random UUID per call. */
  idempotencyKey?: string;
}
