import { defineDialect } from '../dialect.js';
import { openaiError, openaiNotFound } from './errors.js';
import { routes } from './routes.js';

/**
 * OpenAI's Conversations API (conversations and their message items) under /openai/v1, so an app
 * built on the official `openai` client keeps its conversations in Parley with
 * `baseURL: <server>/openai/v1`. The native API owns /v1/conversations.
 */
export const openai = defineDialect({
  name: 'openai',
  prefixes: ['/openai/v1'],
  keyHeader: 'bearer',
  errorShape: (e) => ({ body: openaiError(e) }),
  notFound: openaiNotFound,
  docs: {
    tag: {
      name: 'OpenAI Conversations',
      description:
        "OpenAI's Conversations API (conversations and their message items) under /openai/v1, for apps on the official openai client.",
    },
    operationIds: {},
  },
  routes,
});
