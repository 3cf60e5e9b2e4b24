import { analyze, literalTerms, matchSpans } from '../../src/store/search-terms.js';

/**
 * What search promises, computed in memory: a conversation matches when its title, or one of
 * its messages, holds every term of the query (phrases adjacent, the last term as a prefix).
 * Both engines are checked against this one definition, so they return the same sets.
 */
export function textMatches(text: string, query: string): boolean {
  const terms = literalTerms(query);
  if (terms.length === 0) return false;
  const tokens = analyze(text);
  return terms.every((t) => matchSpans(tokens, [t]).length > 0);
}

export function conversationMatches(c: { title: string | null; messages: string[] }, query: string): boolean {
  return (c.title !== null && textMatches(c.title, query)) || c.messages.some((m) => textMatches(m, query));
}
