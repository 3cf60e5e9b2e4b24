import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { App } from '../app.js';

/** OpenAPI 3.1 generated from the route schemas, and a reference page served from local assets. */
export function registerDocs(app: App): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Parley API',
        version: '0.1.0',
        description:
          'Self-hosted conversation store for AI assistants. Every response carries X-Request-ID and ' +
          'X-RateLimit-Limit / -Remaining / -Reset (Unix seconds). Errors: {"error":{"code","message","request_id","details"?}}; ' +
          'codes are listed in docs/errors.md. POST, PATCH and DELETE accept an Idempotency-Key header (kept 24 h).',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'prl_… API key' },
          lexiconKey: {
            type: 'apiKey',
            in: 'header',
            name: 'X-API-Key',
            description: 'prl_… API key (Lexicon Labs surface)',
          },
        },
      },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  app.register(swaggerUi, {
    routePrefix: '/docs',
    // validatorUrl: null — the default would load a badge from the internet; the docs work offline
    uiConfig: { docExpansion: 'list', deepLinking: true, validatorUrl: null },
    staticCSP: true,
  });
  app.get('/openapi.json', { config: { scope: 'public' }, schema: { hide: true } }, async () => app.swagger());
  // the root of the server is where a person lands first: send them to the reference
  app.get('/', { config: { scope: 'public' }, schema: { hide: true } }, async (_req, reply) =>
    reply.redirect('/docs', 302),
  );
}
