import { defineDialect } from '../dialect.js';
import { lexiconError, lexiconNotFound } from './errors.js';
import { routes } from './routes.js';
import { TAG } from './schemas.js';
import { registerLexiconSocket } from './ws.js';

/**
 * Lexicon Labs chats (delete, create, get, list by user and messages, from the product's pages),
 * keyed by `X-API-Key`, and its WebSocket /ws/chat (ws.ts). A socket there is live presence, so
 * DELETE answers 409 while one is attached.
 */
export const lexicon = defineDialect({
  name: 'lexicon',
  prefixes: ['/api'],
  keyHeader: 'x-api-key',
  errorShape: lexiconError,
  notFound: lexiconNotFound,
  docs: {
    tag: {
      name: TAG,
      description: 'The Lexicon Labs chats API under /api/v1/chats, keyed by X-API-Key, and its /ws/chat socket.',
    },
    operationIds: {
      'POST /api/v1/chats/': 'lexiconCreateChat',
      'POST /api/v1/chats': 'lexiconCreateChatWithoutSlash',
      'GET /api/v1/chats/user/{user_id}': 'lexiconListUserChats',
      'GET /api/v1/chats/{chat_id}': 'lexiconGetChat',
      'DELETE /api/v1/chats/{chat_id}': 'lexiconDeleteChat',
      'GET /api/v1/chats/{chat_id}/messages': 'lexiconListChatMessages',
      'GET /ws/chat': 'lexiconChatSocket',
    },
  },
  routes,
  rootRoutes: (app, deps) => {
    if (deps.realtime) registerLexiconSocket(app, deps, deps.realtime);
  },
});
