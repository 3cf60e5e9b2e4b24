import { readFileSync } from 'node:fs';
import path from 'node:path';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from 'typebox';
import { ERROR_CATALOG, ERROR_CODES } from '../../errors.js';
import { SERVER_ROOT } from '../../paths.js';
import { OPERATION_EXAMPLES } from '../openapi-examples.js';
import { operationIdFor } from '../operation-ids.js';
import { OneOf } from '../schemas.js';
import type { App } from '../types.js';

const ASSETS = path.join(SERVER_ROOT, 'assets');
const LOGO = readFileSync(path.join(ASSETS, 'parley-logo.svg'));
const FAVICON = readFileSync(path.join(ASSETS, 'favicon.svg'));

/** Where people find the error codes: the catalog itself, as JSON. */
export const ERRORS_URL = '/docs/errors';

/** The native API's tags, described; each compat surface adds its own (a test holds the list complete). */
const NATIVE_TAGS = [
  { name: 'Conversations', description: 'Create, list, search, read, update, archive and delete conversations.' },
  { name: 'Messages', description: 'Append and page through the messages of a conversation.' },
  { name: 'Tool invocations', description: 'Record what the assistant ran: tool, input, output, status, timings.' },
  {
    name: 'Live streams',
    description: 'WebSocket and Server-Sent Events on one conversation, and short-lived stream tokens for browsers.',
  },
  {
    name: 'Export and import',
    description:
      'Stream conversations out as JSONL, JSON or Markdown; read JSONL exports and OpenAI-style chats back in, idempotently.',
  },
  {
    name: 'Data lifecycle',
    description:
      'Erase a user (a job with a receipt), retention policies (delete or archive inactive conversations, dry run), and the jobs that carry them out.',
  },
  { name: 'Audit', description: 'Who deleted or erased what and when, with counts; never the content.' },
  {
    name: 'API keys',
    description: 'Keys of this workspace: scopes, a user binding, expiry, own rate limit, revocation.',
  },
  { name: 'Workspaces', description: 'Tenants; creating one needs the instance admin key.' },
  {
    name: 'Trash',
    description: 'With trash_days > 0 deletes go to the trash: list, restore within the window, purge.',
  },
  {
    name: 'Legal holds',
    description: 'Holds on a conversation, user or context id: no delete, purge or erase while active.',
  },
  {
    name: 'Webhooks',
    description:
      'Signed POSTs of conversation lifecycle events to your endpoints, retried for a day, with a delivery log.',
  },
  { name: 'Operations', description: 'Liveness, readiness and Prometheus metrics for load balancers and monitoring.' },
  { name: 'Reference', description: 'The error catalog as data.' },
  { name: 'Examples', description: 'Small pages served for trying Parley in a browser.' },
];

type RouteSchema = Record<string, unknown> & { body?: object; response?: Record<string, object>; hide?: boolean };

/** What the compat surfaces add to the reference (dialects/register.ts). */
export interface DocsAdditions {
  tags: Array<{ name: string; description: string }>;
  /** operationIds by `METHOD /path`, beside the native ones. */
  operationIds: Record<string, string>;
  securitySchemes: Record<string, object>;
  /** Sentences added to the API description. */
  notes: string[];
}

/** Adds the operationId and the examples. */
const transform =
  (ids: Record<string, string>) =>
  ({ schema, url, route }: { schema: unknown; url: string; route: { method: string | string[] } }) => {
    const s = (schema ?? {}) as RouteSchema;
    const method = Array.isArray(route.method) ? (route.method[0] ?? 'GET') : route.method;
    const operationId = operationIdFor(method, url, ids);
    const out: RouteSchema = { ...s, operationId };
    // copies: the route's own schemas stay as they are for validation and serialization
    const examples = OPERATION_EXAMPLES[operationId];
    if (examples?.request !== undefined && s.body) out.body = { ...s.body, examples: [examples.request] };
    if (examples?.responses && s.response) {
      const response = { ...s.response };
      for (const [status, example] of Object.entries(examples.responses)) {
        const r = response[status];
        if (r) response[status] = { ...r, examples: [example] };
      }
      out.response = response;
    }
    return { schema: out, url };
  };

/**
 * The reference page's policy: only this server's scripts, styles, fonts and images (no CDN, no
 * online validator). Swagger UI sets inline styles from its bundle, so styles allow 'unsafe-inline';
 * scripts stay 'self' only, which is what keeps an injected page from running anything.
 */
const DOCS_CSP =
  "default-src 'self'; base-uri 'self'; connect-src 'self'; font-src 'self' data:; frame-ancestors 'self'; " +
  "img-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'";

/** OpenAPI 3.1 generated from the route schemas, and a reference page served from local assets. */
export function registerDocs(app: App, more: DocsAdditions): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Parley API',
        version: '0.1.0',
        'x-logo': { url: '/docs/static/theme/parley-logo.svg', altText: 'Parley' },
        description:
          'Self-hosted conversation store for AI assistants. Every response carries X-Request-ID and ' +
          'X-RateLimit-Limit / -Remaining / -Reset (Unix seconds). Errors: {"error":{"code","message","request_id","details"?}}; ' +
          `every code, its status and meaning are listed at [${ERRORS_URL}](${ERRORS_URL}) (and in docs/errors.md). ` +
          'POST, PUT, PATCH and DELETE accept an Idempotency-Key header (kept 24 h). ' +
          'To browse, search, read and delete conversations with an API key, open the web console at [/console](/console). ' +
          more.notes.join(' '),
      } as never,
      tags: [...NATIVE_TAGS, ...more.tags],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'prl_… API key' },
          ...more.securitySchemes,
        },
      },
      security: [{ bearer: [] }],
    },
    transform: transform(more.operationIds) as never,
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  app.register(swaggerUi, {
    routePrefix: '/docs',
    // validatorUrl: null — the default would load a badge from the internet; the docs work offline
    uiConfig: { docExpansion: 'list', deepLinking: true, validatorUrl: null },
    staticCSP: DOCS_CSP,
    logo: { type: 'image/svg+xml', content: LOGO, href: '/docs', target: '_self' },
    theme: {
      title: 'Parley API reference',
      favicon: [{ filename: 'favicon.svg', rel: 'icon', sizes: 'any', type: 'image/svg+xml', content: FAVICON }],
      css: [{ filename: 'parley.css', content: '.swagger-ui .topbar { background-color: #1b1b1b; }' }],
    },
  });
  // registered once the plugins above are loaded: the OpenAPI generator sees these routes too
  app.register(async (scope) => {
    const routes = scope as unknown as App;
    routes.get('/openapi.json', { config: { scope: 'public' }, schema: { hide: true } }, async () => app.swagger());
    // the root of the server is where a person lands first: send them to the reference
    routes.get('/', { config: { scope: 'public' }, schema: { hide: true } }, async (_req, reply) =>
      reply.redirect('/docs', 302),
    );
    // the logo as a file, for OpenAPI readers that show info.x-logo (Redoc)
    routes.get(
      '/docs/static/theme/parley-logo.svg',
      { config: { scope: 'public' }, schema: { hide: true } },
      async (_req, reply) => reply.type('image/svg+xml').send(LOGO),
    );
    routes.get(
      ERRORS_URL,
      {
        config: { scope: 'public' },
        schema: {
          tags: ['Reference'],
          summary: 'The error catalog: every code, its HTTP status and what it means',
          response: {
            200: Type.Object({
              data: Type.Array(
                Type.Object({ code: OneOf(ERROR_CODES), status: Type.Integer(), description: Type.String() }),
              ),
            }),
          },
        },
      },
      async () => ({
        data: ERROR_CODES.map((code) => ({
          code,
          status: ERROR_CATALOG[code].status,
          description: ERROR_CATALOG[code].description,
        })),
      }),
    );
  });
}
