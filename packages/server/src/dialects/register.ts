import type { DocsAdditions } from '../http/routes/docs.js';
import { answerNotFound, useErrorShape } from '../http/surface-errors.js';
import type { App, AppDeps } from '../http/types.js';
import type { Dialect } from './dialect.js';

/** The OpenAPI security scheme name of a surface keyed by X-API-Key. */
export const securitySchemeOf = (d: Dialect): string => `${d.name}Key`;

/**
 * Registers a dialect: under each of its prefixes one plugin with its error shape, its not-found
 * answer and its routes, each route tagged for the reference and reading the key where the
 * product sends it; then its routes outside the prefixes.
 */
export function registerDialect(app: App, deps: AppDeps, d: Dialect): void {
  const [documented] = d.prefixes;
  for (const prefix of d.prefixes) {
    app.register(
      async (scope) => {
        const r = scope as unknown as App;
        r.addHook('onRoute', (route) => {
          route.schema = {
            ...route.schema,
            tags: route.schema?.tags ?? [d.docs.tag.name],
            // an alias answers the same routes; the reference documents them once
            ...(prefix !== documented ? { hide: true } : {}),
            ...(d.keyHeader === 'x-api-key' ? { security: [{ [securitySchemeOf(d)]: [] }] } : {}),
          };
          if (d.keyHeader === 'x-api-key') route.config = { ...route.config, keyHeader: 'x-api-key' };
        });
        useErrorShape(r, (e, req) => d.errorShape(e, req, deps));
        answerNotFound(r, (req) => d.notFound(req, deps));
        d.routes(r, deps);
      },
      { prefix },
    );
  }
  d.rootRoutes?.(app, deps);
}

/** What the reference adds for the dialects: their tags, operationIds, key schemes and aliases. */
export function dialectDocs(dialects: readonly Dialect[]): DocsAdditions {
  return {
    tags: dialects.map((d) => d.docs.tag),
    operationIds: Object.assign({}, ...dialects.map((d) => d.docs.operationIds)),
    securitySchemes: Object.fromEntries(
      dialects
        .filter((d) => d.keyHeader === 'x-api-key')
        .map((d) => [
          securitySchemeOf(d),
          {
            type: 'apiKey',
            in: 'header',
            name: 'X-API-Key',
            description: `prl_… API key (${d.docs.tag.name} surface)`,
          },
        ]),
    ),
    notes: dialects
      .filter((d) => d.prefixes.length > 1)
      .map((d) => `${d.docs.tag.name} routes are also served under ${d.prefixes.slice(1).join(' and ')}.`),
  };
}
