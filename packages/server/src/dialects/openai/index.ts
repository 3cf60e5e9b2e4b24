import { refuseWrongMethod } from '../../http/allowed-methods.js';
import { useErrorShape } from '../../http/surface-errors.js';
import type { App, AppDeps } from '../../http/types.js';
import { openaiError, openaiNotFound } from './errors.js';
import { routes } from './routes.js';

/**
 * OpenAI's Conversations API (conversations and their message items) under /openai/v1, so an app
 * built on the official `openai` client keeps its conversations in Parley with
 * `baseURL: <server>/openai/v1`. The native API owns /v1/conversations.
 */
export const OPENAI_PREFIX = '/openai/v1';

export function registerOpenAI(app: App, deps: AppDeps): void {
  app.register(
    async (scope) => {
      const r = scope as unknown as App;
      useErrorShape(r, (e) => ({ body: openaiError(e) }));
      r.setNotFoundHandler(async (req, reply) => {
        refuseWrongMethod(req);
        reply.code(404);
        return openaiNotFound(req);
      });
      routes(r, deps);
    },
    { prefix: OPENAI_PREFIX },
  );
}
