import type { FastifyRequest } from 'fastify';
import type { ParleyError } from '../errors.js';
import type { App, AppDeps } from '../http/types.js';

/**
 * A compatible surface, declared: where it answers, how its key arrives, how it answers errors
 * and unknown paths, how the reference documents it, and its routes. The registry lists them;
 * register.ts turns each into a plugin and the docs read them.
 */
export interface Dialect<N extends string = string> {
  /** Short id of the surface (tests name surfaces by it). */
  name: N;
  /**
   * Path prefixes its routes answer under, each with the same routes. The first is documented;
   * the others are aliases (a product's gateway base path), hidden from OpenAPI and named in the
   * API description instead.
   */
  prefixes: readonly [string, ...string[]];
  /**
   * Where its key arrives: `Authorization: Bearer`, or `X-API-Key` (documented as the security
   * scheme `<name>Key`).
   */
  keyHeader: 'bearer' | 'x-api-key';
  /** Its answer to one of our errors: the status (default ours) and its body. */
  errorShape: (e: ParleyError, req: { id: string }, deps: AppDeps) => { status?: number; body: unknown };
  /** Its 404 body for a path under its prefixes that no route matches (a known path with another method is a 405). */
  notFound: (req: FastifyRequest, deps: AppDeps) => unknown;
  docs: {
    /** The OpenAPI tag every operation of the surface carries. */
    tag: { name: string; description: string };
    /** operationIds by `METHOD /path` as OpenAPI writes it: the names generated clients give methods. */
    operationIds: Record<string, string>;
  };
  /** Its routes, relative to each prefix. */
  routes: (app: App, deps: AppDeps) => void;
  /** Routes it serves outside its prefixes (Lexicon's socket), registered once at the root. */
  rootRoutes?: (app: App, deps: AppDeps) => void;
}

/** Keeps the literal name, so that a list of dialects has a union of names. */
export const defineDialect = <const N extends string>(d: Dialect<N>): Dialect<N> => d;
