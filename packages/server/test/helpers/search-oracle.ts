/**
 * What search promises (docs/search.md, "Query semantics"), computed in memory, written from the
 * documentation alone: it shares no code with src/store/search-terms.ts, so the engines are
 * checked against the documented meaning, not against the analyzer they both run. Plain and
 * slow on purpose: a regular expression per token kind, a character at a time for accents.
 *
 * - Tokens: every emoji (with its modifiers, ZWJ parts, flag or keycap; variation selectors
 *   ignored); every Han, Hiragana, Katakana or Hangul character on its own; runs of letters,
 *   digits and combining marks (words), folded: NFKC, lower case, combining marks dropped from
 *   Latin and Greek letters; cut to 100 characters. Everything else separates.
 * - Terms: a "quoted phrase" is one term; outside quotes each word or emoji is a term and each
 *   run of adjacent CJK characters is a phrase. The last term, when it is an unquoted word, is a
 *   prefix. Duplicates count once; terms after the 64th are ignored.
 * - A text matches when every term occurs in it (a phrase as consecutive tokens); no terms, no match.
 */

// by script extension: the prolonged sound mark ー is written in Katakana and Hiragana alike
const CJK_CHAR =
  /^[\p{Script_Extensions=Han}\p{Script_Extensions=Hiragana}\p{Script_Extensions=Katakana}\p{Script_Extensions=Hangul}]$/u;
// a keycap, an emoji as Unicode lists it (RGI sequences: modifiers, ZWJ, flags), or a lone pictograph
// (the v flag, needed for \p{RGI_Emoji}, through the constructor: tsconfig targets below ES2024)
const EMOJI_SOURCE = '^(?:[0-9#*]\\u20E3|\\p{RGI_Emoji}|\\p{Extended_Pictographic})';
const EMOJI = new RegExp(EMOJI_SOURCE, 'v');
const VARIATION_SELECTORS = /[\uFE0E\uFE0F]/g;
const WORD_CHAR = /^[\p{L}\p{N}\p{M}]$/u;
const LATIN_OR_GREEK = /^[\p{Script=Latin}\p{Script=Greek}]$/u;
const MARK = /^\p{M}$/u;
const MAX_TOKEN = 100;
const MAX_TERMS = 64;

interface OracleToken {
  text: string;
  kind: 'word' | 'cjk' | 'emoji';
  /** Code-unit offsets, to tell adjacent CJK characters from separated ones. */
  start: number;
  end: number;
}

function cut(s: string): string {
  const chars = [...s];
  // a cut counts UTF-16 units, as the docs' "characters" do for JavaScript strings
  let out = '';
  for (const c of chars) {
    if (out.length + c.length > MAX_TOKEN) break;
    out += c;
  }
  return out;
}

/** NFKC, lower case, then marks dropped after a Latin or Greek letter; a compatibility form may split a word. */
function foldWord(word: string): string[] {
  const lowered = word.normalize('NFKC').toLowerCase().normalize('NFD');
  let out = '';
  let base = '';
  for (const c of lowered) {
    if (MARK.test(c)) {
      if (LATIN_OR_GREEK.test(base)) continue;
    } else {
      base = c;
    }
    out += c;
  }
  const parts: string[] = [];
  let part = '';
  for (const c of out.normalize('NFC')) {
    if (WORD_CHAR.test(c)) part += c;
    else {
      if (part) parts.push(cut(part));
      part = '';
    }
  }
  if (part) parts.push(cut(part));
  return parts;
}

export function oracleTokens(raw: string): OracleToken[] {
  // variation selectors are ignored (offsets then count in the text without them)
  const text = raw.replace(VARIATION_SELECTORS, '');
  const out: OracleToken[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const emoji = EMOJI.exec(rest);
    if (emoji && !/^[0-9#*]$/.test(emoji[0])) {
      out.push({ text: emoji[0], kind: 'emoji', start: i, end: i + emoji[0].length });
      i += emoji[0].length;
      continue;
    }
    const c = String.fromCodePoint(text.codePointAt(i) as number);
    if (CJK_CHAR.test(c) && /^[\p{L}\p{N}]$/u.test(c)) {
      out.push({ text: c.normalize('NFKC'), kind: 'cjk', start: i, end: i + c.length });
      i += c.length;
      continue;
    }
    if (WORD_CHAR.test(c)) {
      let j = i;
      for (;;) {
        if (j >= text.length) break;
        const d = String.fromCodePoint(text.codePointAt(j) as number);
        if (!WORD_CHAR.test(d) || (CJK_CHAR.test(d) && !MARK.test(d))) break;
        // an emoji starts a token of its own ("a🎉" is two tokens); a digit may start a keycap
        const e = EMOJI.exec(text.slice(j));
        if (e && !/^[0-9#*]$/.test(e[0])) break;
        j += d.length;
      }
      for (const w of foldWord(text.slice(i, j))) out.push({ text: w, kind: 'word', start: i, end: j });
      i = j;
      continue;
    }
    i += c.length;
  }
  return out;
}

export interface OracleTerm {
  words: string[];
  prefix: boolean;
}

/** The query's terms, as docs/search.md defines them. */
export function oracleTerms(query: string): OracleTerm[] {
  const terms: OracleTerm[] = [];
  const parts = query.split('"');
  for (let p = 0; p < parts.length; p++) {
    const tokens = oracleTokens(parts[p] as string);
    // an odd part is inside quotes, unless its quote is never closed
    if (p % 2 === 1 && p < parts.length - 1) {
      if (tokens.length > 0) terms.push({ words: tokens.map((t) => t.text), prefix: false });
      continue;
    }
    let k = 0;
    while (k < tokens.length) {
      const t = tokens[k] as OracleToken;
      if (t.kind !== 'cjk') {
        terms.push({ words: [t.text], prefix: false });
        k++;
        continue;
      }
      const run = [t];
      while (k + run.length < tokens.length) {
        const next = tokens[k + run.length] as OracleToken;
        if (next.kind !== 'cjk' || next.start !== (run[run.length - 1] as OracleToken).end) break;
        run.push(next);
      }
      terms.push({ words: run.map((r) => r.text), prefix: false });
      k += run.length;
    }
    // the last term typed is a prefix when it is an unquoted word
    if (p === parts.length - 1 && tokens.length > 0) {
      const lastToken = tokens[tokens.length - 1] as OracleToken;
      if (lastToken.kind === 'word') (terms[terms.length - 1] as OracleTerm).prefix = true;
    }
  }
  const distinct: OracleTerm[] = [];
  for (const t of terms) {
    if (!distinct.some((d) => d.prefix === t.prefix && d.words.join(' ') === t.words.join(' '))) distinct.push(t);
  }
  return distinct.slice(0, MAX_TERMS);
}

function occurs(tokens: string[], term: OracleTerm): boolean {
  const n = term.words.length;
  for (let i = 0; i + n <= tokens.length; i++) {
    let ok = true;
    for (let j = 0; j < n && ok; j++) {
      const tok = tokens[i + j] as string;
      const w = term.words[j] as string;
      ok = tok === w || (term.prefix && j === n - 1 && tok.startsWith(w));
    }
    if (ok) return true;
  }
  return false;
}

export function textMatches(text: string, query: string): boolean {
  const terms = oracleTerms(query);
  if (terms.length === 0) return false;
  const tokens = oracleTokens(text).map((t) => t.text);
  return terms.every((t) => occurs(tokens, t));
}

export function conversationMatches(c: { title: string | null; messages: string[] }, query: string): boolean {
  return (c.title !== null && textMatches(c.title, query)) || c.messages.some((m) => textMatches(m, query));
}
