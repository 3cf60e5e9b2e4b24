/**
 * Turns what a person typed into literal search terms, the same way for every engine: words are
 * runs of letters, digits and combining marks; a "quoted phrase" stays one term; everything else
 * (operators, wildcards, SQL, punctuation) is just a separator. The last bare word is a prefix so
 * results follow typing.
 */
export interface SearchTerm {
  words: string[];
  prefix: boolean;
}

const WORD = /[\p{L}\p{N}\p{M}]+/gu;
/** Bounds the work a single query can cause, whatever its length. */
const MAX_TERMS = 16;

export function literalTerms(text: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  const parts = text.slice(0, 2000).split('"');
  parts.forEach((part, i) => {
    const words = part.normalize('NFKC').toLowerCase().match(WORD) ?? [];
    const quoted = i % 2 === 1 && i < parts.length - 1;
    if (quoted) {
      if (words.length > 0) terms.push({ words, prefix: false });
    } else {
      for (const w of words) terms.push({ words: [w], prefix: true });
    }
  });
  const kept = terms.slice(0, MAX_TERMS);
  // only the last term follows typing
  return kept.map((t, i) => ({ words: t.words, prefix: t.prefix && i === kept.length - 1 }));
}
