import type { App, AppDeps } from '../http/types.js';
import { registerBotpress } from './botpress/index.js';
import { registerFini } from './fini/index.js';
import { registerLeadLex } from './leadlex/index.js';
import { registerLexicon } from './lexicon/index.js';
import { registerOpenAI } from './openai/index.js';

/** The compatible surfaces: each one folder, one plugin with its own error shape. */
export function registerDialects(app: App, deps: AppDeps): void {
  registerLeadLex(app, deps);
  registerLexicon(app, deps);
  registerFini(app, deps);
  registerBotpress(app, deps);
  registerOpenAI(app, deps);
}
