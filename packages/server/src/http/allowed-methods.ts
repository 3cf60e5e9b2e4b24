import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ParleyError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Which methods the app answers at a path: a wrong method is a 405 with Allow, not a 404. */
    routeMethods: RouteMethods;
  }
}

/** Route patterns as registered (`/v1/conversations/:id`), matched against concrete paths. */
export class RouteMethods {
  private readonly patterns = new Map<string, { re: RegExp; methods: Set<string> }>();

  add(method: string | string[], url: string): void {
    let entry = this.patterns.get(url);
    if (!entry) {
      const source = url
        .split(/(:[A-Za-z0-9_]+|\*)/)
        .map((part) =>
          part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join('');
      entry = { re: new RegExp(`^${source}$`), methods: new Set() };
      this.patterns.set(url, entry);
    }
    for (const m of Array.isArray(method) ? method : [method]) entry.methods.add(m.toUpperCase());
  }

  /** Methods answered at this path, sorted; empty when no route has this path. */
  allowed(path: string): string[] {
    const out = new Set<string>();
    for (const { re, methods } of this.patterns.values()) {
      if (re.test(path)) for (const m of methods) out.add(m);
    }
    return [...out].sort();
  }
}

/** Records every route of the app (children included) in one table, decorated on the root. */
export function trackRouteMethods(app: FastifyInstance): void {
  const table = new RouteMethods();
  app.decorate('routeMethods', table);
  app.addHook('onRoute', (route) => table.add(route.method, route.url));
}

/**
 * For a not-found handler: throws 405 method_not_allowed (with the methods for the Allow
 * header) when the path exists under other methods; returns when the path is unknown.
 */
export function refuseWrongMethod(req: FastifyRequest): void {
  const path = req.url.split('?')[0] ?? '/';
  const allowed = req.server.routeMethods.allowed(path);
  if (allowed.length === 0 || allowed.includes(req.method)) return;
  throw new ParleyError('method_not_allowed', `${req.method} is not allowed on ${path}; use ${allowed.join(', ')}`, {
    extra: { allow: allowed.join(', ') },
  });
}
