import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyReply } from 'fastify';

type Schema = Record<string, unknown>;
const SCALARS = new Set(['string', 'integer', 'number', 'boolean', 'null']);
const SCALAR_KEYS = new Set(['type', 'const', 'format', 'description', 'title', 'enum']);

/**
 * fast-json-stringify serializes an `anyOf` by running an Ajv validator against each branch for
 * every value (format checks included): per conversation five times, per message once per role
 * tried. An anyOf of scalars of one JSON type (nullable strings, enums of literals, nullable
 * integers) serializes exactly the same as `type: [T, 'null']`, which it handles with a typeof
 * test. Only what is serialized changes: documentation and request validation keep the schemas
 * as declared.
 */
export function forSerialization(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forSerialization);
  if (schema === null || typeof schema !== 'object') return schema;
  const s = schema as Schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) out[k] = k === 'const' || k === 'enum' ? v : forSerialization(v);
  const branches = out.anyOf;
  if (!Array.isArray(branches) || branches.length === 0) return out;
  const types = new Set<string>();
  const formats = new Set<unknown>();
  for (const b of branches as unknown[]) {
    if (b === null || typeof b !== 'object') return out;
    const branch = b as Schema;
    if (typeof branch.type !== 'string' || !SCALARS.has(branch.type)) return out;
    if (Object.keys(branch).some((k) => !SCALAR_KEYS.has(k))) return out;
    types.add(branch.type);
    if (branch.type !== 'null') formats.add(branch.format);
  }
  const nonNull = [...types].filter((t) => t !== 'null');
  if (nonNull.length !== 1) return out;
  const { anyOf: _dropped, ...rest } = out;
  const merged: Schema = { ...rest, type: types.has('null') ? [nonNull[0], 'null'] : nonNull[0] };
  const [format] = formats;
  if (formats.size === 1 && typeof format === 'string') merged.format = format;
  return merged;
}

type SerializerFactory = (externalSchemas: unknown, opts: unknown) => (route: { schema: unknown }) => unknown;

/**
 * Fastify's own serializer factory, fed the rewritten schemas (see forSerialization), compiled
 * lazily: a route's serializer is built the first time it answers with that status, not when the
 * route is registered. Building all of them up front (five surfaces, every status of every route)
 * was about half of a start's CPU (~2 s of ~4); a process that answers a few routes (a CLI-started
 * server in a test, a short-lived instance) pays only for those, and each is built once.
 */
export function serializerFactory(): SerializerFactory {
  const base = SerializerSelector() as unknown as SerializerFactory;
  return (externalSchemas, opts) => {
    const external = Object.fromEntries(
      Object.entries((externalSchemas ?? {}) as Record<string, unknown>).map(([id, s]) => [id, forSerialization(s)]),
    );
    const build = base(external, opts) as (route: { schema: unknown }) => (data: unknown) => string;
    return (route) => {
      let serialize: ((data: unknown) => string) | undefined;
      return (data: unknown) => {
        serialize ??= build({ ...route, schema: forSerialization(route.schema) });
        return serialize(data);
      };
    };
  };
}

/**
 * For answers built wholly by presenters, whose objects carry exactly the schema's fields, in
 * its order, with its types: plain JSON.stringify writes the same bytes as the schema's
 * serializer for them at about half the CPU (a list page of 25 conversations: ~60 against ~100 us).
 * Called by the hot reads' handlers before they return; test/plain-json.test.ts holds each such
 * answer to its schema serializer's bytes.
 */
export function answerPlainJson(reply: FastifyReply): void {
  // what Fastify sets for a serialized object (a custom serializer leaves the type to the route)
  reply.header('content-type', 'application/json; charset=utf-8');
  reply.serializer(JSON.stringify);
}
