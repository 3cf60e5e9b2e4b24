import { botpress } from './botpress/index.js';
import { fini } from './fini/index.js';
import { leadlex } from './leadlex/index.js';
import { lexicon } from './lexicon/index.js';
import { openai } from './openai/index.js';

/** The compatible surfaces, one line each, in the order the reference lists them. */
export const DIALECTS = [leadlex, lexicon, fini, botpress, openai] as const;

export type DialectName = (typeof DIALECTS)[number]['name'];
