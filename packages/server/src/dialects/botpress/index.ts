import { defineDialect } from '../dialect.js';
import { botpressError, botpressNotFound } from './errors.js';
import { routes } from './routes.js';

/**
 * Botpress Runtime API conversations and messages (from the product's pages and its official
 * client). Channel, integration, tags and the current task live in the conversation's metadata;
 * x-bot-id is stamped as its bot_id and partitions the surface: a bot sees only its own
 * conversations.
 */
export const botpress = defineDialect({
  name: 'botpress',
  prefixes: ['/v1/chat'],
  keyHeader: 'bearer',
  errorShape: botpressError,
  notFound: botpressNotFound,
  docs: {
    tag: { name: 'Botpress', description: 'The Botpress runtime chat API under /v1/chat, with x-bot-id.' },
    operationIds: {
      'GET /v1/chat/conversations': 'botpressListConversations',
      'POST /v1/chat/conversations/get-or-create': 'botpressGetOrCreateConversation',
      'GET /v1/chat/conversations/{id}': 'botpressGetConversation',
      'PUT /v1/chat/conversations/{id}': 'botpressUpdateConversation',
      'DELETE /v1/chat/conversations/{id}': 'botpressDeleteConversation',
      'GET /v1/chat/messages': 'botpressListMessages',
      'POST /v1/chat/messages': 'botpressCreateMessage',
      'POST /v1/chat/messages/get-or-create': 'botpressGetOrCreateMessage',
      'GET /v1/chat/messages/{id}': 'botpressGetMessage',
      'PUT /v1/chat/messages/{id}': 'botpressUpdateMessage',
      'DELETE /v1/chat/messages/{id}': 'botpressDeleteMessage',
    },
  },
  routes,
});
