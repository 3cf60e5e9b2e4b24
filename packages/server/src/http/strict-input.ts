import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ParleyError } from '../errors.js';

/**
 * Bytes and numbers are decoded strictly, at the mechanism rather than per route: a body or a
 * query value that is not valid UTF-8 is refused (the lenient decoders would store U+FFFD in its
 * place, and the UTF-8 form of a lone surrogate would slip past the check for lone surrogates),
 * JSON is accepted in UTF-8 only, and a whole number in a query is decimal digits only (`0x10`,
 * `1e1` and ` 7` are refused instead of being read as numbers by the schema coercion).
 */
const utf8 = new TextDecoder('utf-8', { fatal: true });

type JsonParser = (req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => void;

/** The charset parameter of a Content-Type, lowercased; null when there is none. */
function charsetOf(contentType: string | undefined): string | null {
  if (contentType === undefined) return null;
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return m?.[1] ? m[1].toLowerCase() : null;
}

/**
 * Replaces Fastify's JSON body parser with one that decodes the bytes as UTF-8 and refuses any
 * invalid sequence, then parses with Fastify's own (prototype-poisoning-safe) JSON parser.
 */
export function registerStrictJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error') as unknown as JsonParser;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const charset = charsetOf(req.headers['content-type']);
    if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
      done(
        new ParleyError(
          'unsupported_media_type',
          `Only UTF-8 JSON is accepted (got charset=${charset}); send Content-Type: application/json`,
        ),
        undefined,
      );
      return;
    }
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new ParleyError('invalid_json', 'The request body is not valid UTF-8'), undefined);
      return;
    }
    parse(req, text, done as (err: Error | null, value?: unknown) => void);
  });
}

/** Set on a parsed query whose text could not be decoded; the request is then refused (see queryProblem). */
const UNDECODABLE = Symbol('undecodable query parameter');

function decodeComponent(s: string): string {
  return decodeURIComponent(s.includes('+') ? s.replaceAll('+', ' ') : s);
}

/**
 * The router's query-string parser: `a=1&a=2&b` → `{a: ['1', '2'], b: ''}` on an object without a
 * prototype. A %-escape that is malformed or not UTF-8 marks the query undecodable instead of
 * throwing inside the router.
 */
export function parseQuery(qs: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  if (qs.length === 0) return out;
  for (const pair of qs.split('&')) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    let key: string;
    let value: string;
    try {
      key = decodeComponent(rawKey);
      value = decodeComponent(rawValue);
    } catch {
      Object.defineProperty(out, UNDECODABLE, { value: rawKey, enumerable: false });
      continue;
    }
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[key] = [prev, value];
  }
  return out;
}

/** A query that could not be decoded, as a validation error naming the parameter; null when fine. */
export function queryProblem(query: unknown): ParleyError | null {
  if (query === null || typeof query !== 'object') return null;
  const raw = (query as { [UNDECODABLE]?: string })[UNDECODABLE];
  if (raw === undefined) return null;
  const name = raw.length > 64 ? `${raw.slice(0, 64)}…` : raw;
  const message = 'is not valid percent-encoded UTF-8';
  return new ParleyError('validation_failed', `/query/${name} ${message}`, {
    details: [{ field: `/query/${name}`, message }],
  });
}

type Validator = ((data: unknown) => boolean | Promise<unknown>) & { errors?: unknown };
type SchemaNode = { type?: unknown; anyOf?: SchemaNode[]; items?: SchemaNode; properties?: Record<string, SchemaNode> };

const WHOLE = /^-?(0|[1-9][0-9]{0,15})$/;
const DECIMAL = /^-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,20})?$/;

function numericKind(s: SchemaNode | undefined): 'integer' | 'number' | null {
  if (s === undefined) return null;
  const node = s.items ?? s;
  const types = [node.type, ...(node.anyOf ?? []).map((b) => b.type)].flat();
  if (types.includes('integer')) return 'integer';
  if (types.includes('number')) return 'number';
  return null;
}

/**
 * Wraps a query-string validator: numeric parameters must be written in plain decimal before the
 * schema's coercion reads them (`Number('0x10')` is 16). Other parts of a request are left to the
 * validator as compiled.
 */
export function strictQueryNumbers(schema: unknown, compiled: Validator): Validator {
  const props = (schema as SchemaNode | null)?.properties ?? {};
  const numeric = Object.entries(props)
    .map(([name, s]) => [name, numericKind(s)] as const)
    .filter((e): e is readonly [string, 'integer' | 'number'] => e[1] !== null);
  if (numeric.length === 0) return compiled;
  const wrapped: Validator = (data: unknown) => {
    if (data !== null && typeof data === 'object') {
      for (const [name, kind] of numeric) {
        const v = (data as Record<string, unknown>)[name];
        const values = Array.isArray(v) ? v : [v];
        const bad = values.find((x) => typeof x === 'string' && !(kind === 'integer' ? WHOLE : DECIMAL).test(x));
        if (bad !== undefined) {
          wrapped.errors = [
            {
              instancePath: `/${name}`,
              message: kind === 'integer' ? 'must be a whole number in decimal digits' : 'must be a decimal number',
              keyword: 'type',
              params: {},
            },
          ];
          return false;
        }
      }
    }
    const ok = compiled(data);
    wrapped.errors = compiled.errors;
    return ok;
  };
  return wrapped;
}
