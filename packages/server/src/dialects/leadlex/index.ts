import { defineDialect } from '../dialect.js';
import { leadlexError, leadlexNotFound } from './errors.js';
import { routes } from './routes.js';

const GATEWAY = '/functions/v1/api-gateway/v1/lexi';

/**
 * LeadLex "Lexi" conversations (delete, list, get and update, from the product's pages). Served
 * under /v1/lexi and under the product's gateway base path, documented once.
 */
export const leadlex = defineDialect({
  name: 'leadlex',
  prefixes: ['/v1/lexi', GATEWAY],
  keyHeader: 'bearer',
  errorShape: leadlexError,
  notFound: leadlexNotFound,
  docs: {
    tag: {
      name: 'LeadLex Lexi',
      description: `The LeadLex "Lexi" conversations API under /v1/lexi. The same routes also answer under ${GATEWAY} (LeadLex's API-gateway base path); they are documented once, here.`,
    },
    operationIds: {
      'GET /v1/lexi/conversations': 'leadlexListConversations',
      'GET /v1/lexi/conversations/{id}': 'leadlexGetConversation',
      'PATCH /v1/lexi/conversations/{id}': 'leadlexUpdateConversation',
      'DELETE /v1/lexi/conversations/{id}': 'leadlexDeleteConversation',
    },
  },
  routes,
});
