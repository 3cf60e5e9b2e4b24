import { defineDialect } from '../dialect.js';
import { finiError, finiNotFound } from './errors.js';
import { routes } from './routes.js';

/**
 * Fini's public conversations API (delete, bulk delete, list and get, from the product's pages).
 * Fini scopes `read` / `write` are Parley's `read:ai` / `write:ai`.
 */
export const fini = defineDialect({
  name: 'fini',
  prefixes: ['/v2/hc-interactions'],
  keyHeader: 'bearer',
  errorShape: finiError,
  notFound: finiNotFound,
  docs: {
    tag: { name: 'Fini', description: 'Fini help-center interactions under /v2/hc-interactions.' },
    operationIds: {
      'GET /v2/hc-interactions/public': 'finiListInteractions',
      'DELETE /v2/hc-interactions/public': 'finiBulkDeleteInteractions',
      'GET /v2/hc-interactions/{id}/public': 'finiGetInteraction',
      'DELETE /v2/hc-interactions/{id}/public': 'finiDeleteInteraction',
    },
  },
  routes,
});
