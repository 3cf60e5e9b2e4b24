import {
  type Compilable,
  type CompiledQuery,
  createQueryId,
  type Kysely,
  type QueryResult,
  type RawBuilder,
} from 'kysely';
import type { Database } from './schema.js';

type Slot = { arg: string } | { value: unknown };

/**
 * An engine's way to run a compiled read without Kysely's executor (connection provider, mutex,
 * result plumbing), or undefined when it must not right now; the template then goes through
 * Kysely as usual. Only readers outside a transaction pass one, never a writer.
 */
export type DirectRead = (sql: string, parameters: readonly unknown[]) => unknown[] | Promise<unknown[]> | undefined;

/**
 * An engine's way to run a compiled statement on the connection of the transaction a writer is in,
 * at once (SQLite: the cached prepared statement, synchronously), or undefined to go through Kysely.
 * Only the writer of a running transaction holds one: its connection is the transaction's own —
 * or, for a lone statement that is its own transaction (Store.claimIdempotency on PostgreSQL),
 * the pool, committing the statement by itself (a promise).
 */
export type DirectExec = (
  sql: string,
  parameters: readonly unknown[],
) => QueryResult<unknown> | Promise<QueryResult<unknown>> | undefined;

/**
 * Every SQL text a template compiled to (any engine). PostgreSQL runs these as named prepared
 * statements, parsed once per connection (store/postgres/index.ts); the set is bounded by the
 * templates' closed shapes.
 */
export const templateSql = new Map<string, string>();

function remember(text: string): void {
  if (!templateSql.has(text) && templateSql.size < 4096) templateSql.set(text, `parley_t${templateSql.size + 1}`);
}

/**
 * A Kysely query built and compiled once per dialect, then run with new parameter values.
 * Building a query through Kysely's builder costs more CPU than SQLite takes to answer a
 * primary-key read, so the hot reads (key lookup, get, list) keep their shared Kysely definition
 * but skip the rebuild. The builder is called once with marker strings in place of the values;
 * each marker must come out as a bound parameter, so a builder that branches on a value or
 * inlines it fails loudly on first use instead of running the wrong SQL.
 */
export class QueryTemplate<P extends Record<string, unknown>, O> {
  // keyed by the dialect adapter: transactions and the root instance share it, engines do not
  private readonly compiled = new WeakMap<object, { base: CompiledQuery<O>; slots: Slot[] }>();

  constructor(private readonly build: (db: Kysely<Database>, params: P) => Compilable<O>) {}

  private compile(db: Kysely<Database>, keys: string[]): { base: CompiledQuery<O>; slots: Slot[] } {
    const markers = Object.fromEntries(keys.map((k) => [k, `\u0000qt:${k}\u0000`]));
    const base = this.build(db, markers as P).compile();
    const byMarker = new Map(keys.map((k) => [markers[k], k]));
    const seen = new Set<string>();
    const slots = base.parameters.map((p): Slot => {
      const arg = typeof p === 'string' ? byMarker.get(p) : undefined;
      if (arg === undefined) return { value: p };
      seen.add(arg);
      return { arg };
    });
    for (const k of keys) {
      if (!seen.has(k)) throw new Error(`query template: parameter ${k} is not bound in ${base.sql}`);
    }
    if (base.sql.includes('\u0000qt:')) throw new Error(`query template: a parameter was inlined in ${base.sql}`);
    remember(base.sql);
    return { base, slots };
  }

  private bind(db: Kysely<Database>, params: P): { base: CompiledQuery<O>; parameters: unknown[] } {
    const adapter = db.getExecutor().adapter;
    let c = this.compiled.get(adapter);
    if (c === undefined) {
      c = this.compile(db, Object.keys(params));
      this.compiled.set(adapter, c);
    }
    const slots = c.slots;
    const parameters = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i] as Slot;
      parameters[i] = 'arg' in s ? params[s.arg] : s.value;
    }
    return { base: c.base, parameters };
  }

  /** The rows; a hot read outside a transaction may pass the engine's direct path. */
  async execute(db: Kysely<Database>, params: P, direct?: DirectRead): Promise<O[]> {
    const { base, parameters } = this.bind(db, params);
    if (direct) {
      const rows = direct(base.sql, parameters);
      if (rows !== undefined) return (await rows) as O[];
    }
    const query: CompiledQuery<O> = { sql: base.sql, query: base.query, queryId: createQueryId(), parameters };
    return (await db.executeQuery(query)).rows;
  }

  /**
   * The whole result (rows, affected rows, insert id); a writer inside a transaction may pass the
   * engine's DirectExec, which runs the statement on that transaction's connection at once.
   */
  async run(db: Kysely<Database>, params: P, exec?: DirectExec): Promise<QueryResult<O>> {
    const { base, parameters } = this.bind(db, params);
    if (exec) {
      const r = exec(base.sql, parameters);
      if (r !== undefined) return r as QueryResult<O> | Promise<QueryResult<O>>;
    }
    const query: CompiledQuery<O> = { sql: base.sql, query: base.query, queryId: createQueryId(), parameters };
    return db.executeQuery(query);
  }
}

/** A template of a raw `sql` statement (what the query builder cannot say, such as FTS5 inserts). */
export function rawTemplate<P extends Record<string, unknown>, O>(build: (p: P) => RawBuilder<O>): QueryTemplate<P, O> {
  return new QueryTemplate<P, O>((db, p) => ({ compile: () => build(p).compile(db) }));
}

/**
 * Templates for one query whose shape varies (which filters are present, sort, paging), one per
 * shape key. The key must name everything the builder branches on; the builder is only used on
 * the first call with that key.
 */
export class TemplateFamily<P extends Record<string, unknown>, O> {
  private readonly templates = new Map<string, QueryTemplate<P, O>>();

  get(shape: string, build: () => (db: Kysely<Database>, params: P) => Compilable<O>): QueryTemplate<P, O> {
    let t = this.templates.get(shape);
    if (t === undefined) {
      t = new QueryTemplate(build());
      // shapes come from a closed set of filter combinations; the bound is a safety net
      if (this.templates.size < 512) this.templates.set(shape, t);
    }
    return t;
  }
}
