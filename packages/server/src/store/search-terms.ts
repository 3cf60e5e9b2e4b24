/**
 * The one text analyzer behind search on every engine: the same function turns stored text into
 * index tokens (SQLite FTS5 rows, PostgreSQL tsvectors) and typed text into query terms, so both
 * engines find the same rows, and snippets are cut from the same token offsets the index saw.
 *
 * Tokens: runs of letters, digits and marks ("words"), case-folded (NFKC, lower case, accents
 * removed from Latin and Greek letters); every Han, Kana or Hangul character on its own (CJK is
 * written without spaces, so a run of it is searched as a phrase of characters); every emoji on
 * its own. Everything else (punctuation, operators, SQL, wildcards) is a separator.
 */
export type TokenKind = 'word' | 'cjk' | 'emoji';

export interface Token {
  /** The folded form stored in the index. */
  text: string;
  /** UTF-16 offsets of the token in the analyzed text. */
  start: number;
  end: number;
  kind: TokenKind;
}

/** One literal search term: a single token or a phrase of adjacent tokens; the last may be a prefix. */
export interface SearchTerm {
  words: string[];
  prefix: boolean;
}

const CJK = '[[\\p{scx=Han}\\p{scx=Hiragana}\\p{scx=Katakana}\\p{scx=Hangul}]&&[\\p{L}\\p{N}]]';
// One emoji: a pictograph with its modifiers and ZWJ-joined parts, a flag (two regional
// indicators) or a keycap. Written out because \p{RGI_Emoji} made the scan ~9x slower.
const EMOJI =
  '\\p{Extended_Pictographic}[\\p{EMod}\\uFE0F\\u20E3]*(?:\\u200D\\p{Extended_Pictographic}[\\p{EMod}\\uFE0F]*)*' +
  '|\\p{RI}\\p{RI}|[0-9#*]\\uFE0F?\\u20E3';
const TOKEN = new RegExp(`(${EMOJI})|(${CJK})|([[\\p{L}\\p{N}\\p{M}]--${CJK}]+)`, 'gv');
/** TOKEN for exec() from a position: its own object, as matchAll copies TOKEN's lastIndex. */
const TOKEN_AT = new RegExp(TOKEN.source, 'gv');
const ASCII = /^[\x00-\x7f]*$/;
const LATIN_GREEK_MARKS = /([\p{sc=Latin}\p{sc=Greek}])\p{Mn}+/gu;
const NON_WORD = /[^\p{L}\p{N}\p{M}]+/u;
const EMOJI_SELECTORS = /[\uFE0E\uFE0F]/g;
/** Longer tokens are cut to this length, the same at index and query time (PostgreSQL caps lexemes). */
const MAX_TOKEN = 100;
/** Bounds the work a single query can cause, whatever its length: terms past this are ignored. */
export const MAX_TERMS = 64;

function cut(s: string): string {
  if (s.length <= MAX_TOKEN) return s;
  const c = s.slice(0, MAX_TOKEN);
  // never leave half a surrogate pair
  return /[\uD800-\uDBFF]$/.test(c) ? c.slice(0, -1) : c;
}

/** Folded forms of non-ASCII words: four normalizations each is the analyzer's main cost. */
const folds = new Map<string, string[]>();
const FOLD_CACHE = 50_000;

function foldWord(s: string): string[] {
  if (ASCII.test(s)) return [cut(s.toLowerCase())];
  const known = folds.get(s);
  if (known !== undefined) return known;
  if (folds.size >= FOLD_CACHE) folds.clear();
  const parts = foldUncached(s);
  folds.set(s, parts);
  return parts;
}

function foldUncached(s: string): string[] {
  const folded = s
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(LATIN_GREEK_MARKS, '$1')
    .normalize('NFC')
    .replace(/ς/g, 'σ');
  // compatibility forms may expand into separators ("¼" -> "1⁄4"): keep the word parts
  return folded
    .split(NON_WORD)
    .filter((p) => p.length > 0)
    .map(cut);
}

type Emit = (text: string, start: number, end: number, kind: TokenKind) => void;

/** One TOKEN match, folded, to `emit` (a word may fold into several parts). */
function emitMatch(m: RegExpExecArray, emit: Emit): void {
  const start = m.index;
  const end = start + m[0].length;
  if (m[1] !== undefined) {
    const e = m[1].replace(EMOJI_SELECTORS, '');
    if (e.length > 0) emit(e, start, end, 'emoji');
  } else if (m[2] !== undefined) {
    emit(m[2].normalize('NFKC'), start, end, 'cjk');
  } else {
    for (const w of foldWord(m[0])) emit(w, start, end, 'word');
  }
}

/** The definition: every TOKEN match in order. The fast scanner below must agree with it exactly. */
export function scanWithPattern(text: string, emit: Emit): void {
  for (const m of text.matchAll(TOKEN)) emitMatch(m, emit);
}

/**
 * Classes of BMP characters the fast scanner may decide alone, computed from the same patterns
 * once: a separator starts no token and ends a word run; a plain CJK character is a token by
 * itself, is its own NFKC form and starts no emoji. Anything else (accented letters, marks,
 * emoji parts, surrogates) goes through TOKEN.
 */
const UNKNOWN = 0;
const SEPARATOR = 1;
const PLAIN_CJK = 2;
const ALNUM = 3;
const PENDING = 255;
const CLASS = new Uint8Array(0x10000).fill(PENDING);
const LETTER_NUMBER_MARK = /^[\p{L}\p{N}\p{M}]$/u;
const PICTOGRAPHIC = /^\p{Extended_Pictographic}$/u;
const ONE_CJK = new RegExp(`^${CJK}$`, 'v');

/** A character's class, worked out the first time it is seen (the table fills as text arrives). */
function classify(c: number): number {
  let k = UNKNOWN;
  const ch = String.fromCharCode(c);
  if ((c < 0xd800 || c > 0xdfff) && !PICTOGRAPHIC.test(ch)) {
    if (!LETTER_NUMBER_MARK.test(ch)) k = SEPARATOR;
    else if (c < 0x80) k = ALNUM;
    else if (ONE_CJK.test(ch) && ch.normalize('NFKC') === ch) k = PLAIN_CJK;
  }
  CLASS[c] = k;
  return k;
}
// '#' and '*' are separators that may start a keycap emoji ("#\uFE0F\u20E3"): the scanner hands
// them to TOKEN when a non-ASCII character follows

/**
 * The tokenizer: ASCII words, separators and plain CJK characters are handled character by
 * character (most text is that); at anything else TOKEN decides from that position on, exactly
 * as a full TOKEN scan would (a scan restarted at a position where no token is in progress finds
 * the same next match).
 */
function scan(text: string, emit: Emit): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    let k = CLASS[c] as number;
    if (k === PENDING) k = classify(c);
    if (k === ALNUM) {
      let j = i + 1;
      let upper = c >= 65 && c <= 90;
      let d = 0;
      while (j < n) {
        d = text.charCodeAt(j);
        if (d >= 0x80 || (CLASS[d] === PENDING ? classify(d) : CLASS[d]) !== ALNUM) break;
        if (d >= 65 && d <= 90) upper = true;
        j++;
      }
      // the run ends at the text's end, ASCII punctuation, a separator or a CJK character;
      // anything else may continue the word (é, a mark) or make a keycap: TOKEN decides
      const after = j === n ? SEPARATOR : d < 0x80 ? SEPARATOR : CLASS[d] === PENDING ? classify(d) : CLASS[d];
      if (after === SEPARATOR || after === PLAIN_CJK) {
        let w = text.slice(i, j);
        if (upper) w = w.toLowerCase();
        emit(w.length > MAX_TOKEN ? w.slice(0, MAX_TOKEN) : w, i, j, 'word');
        i = j;
        continue;
      }
    } else if (k === SEPARATOR) {
      if (!((c === 35 || c === 42) && i + 1 < n && text.charCodeAt(i + 1) >= 0x80)) {
        i++;
        continue;
      }
    } else if (k === PLAIN_CJK) {
      emit(text.charAt(i), i, i + 1, 'cjk');
      i++;
      continue;
    }
    TOKEN_AT.lastIndex = i;
    const m = TOKEN_AT.exec(text);
    if (m === null) return;
    emitMatch(m, emit);
    i = TOKEN_AT.lastIndex;
  }
}

/** Tokens of a text, in order, with their offsets. */
export function analyze(text: string): Token[] {
  const out: Token[] = [];
  scan(text, (t, start, end, kind) => {
    out.push({ text: t, start, end, kind });
  });
  return out;
}

/** Just the folded token strings (what the index stores, in order). */
export function indexTokens(text: string): string[] {
  const out: string[] = [];
  scan(text, (t) => {
    out.push(t);
  });
  return out;
}

/**
 * What a person typed, as literal terms: a "quoted phrase" is one term; outside quotes each word
 * or emoji is a term and each run of CJK characters is a phrase. Every term must match (AND). The
 * last unquoted term ending in a word is a prefix, so results follow typing. Duplicates are dropped.
 */
export function literalTerms(text: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  const parts = text.split('"');
  parts.forEach((part, i) => {
    const tokens = analyze(part);
    const quoted = i % 2 === 1 && i < parts.length - 1;
    if (quoted) {
      if (tokens.length > 0) terms.push({ words: tokens.map((t) => t.text), prefix: false });
      return;
    }
    let run: Token[] = [];
    const flush = () => {
      if (run.length > 0) terms.push({ words: run.map((t) => t.text), prefix: false });
      run = [];
    };
    for (const t of tokens) {
      const prev = run[run.length - 1];
      if (t.kind === 'cjk' && (prev === undefined || prev.end === t.start)) {
        run.push(t);
        continue;
      }
      flush();
      if (t.kind === 'cjk') run.push(t);
      else terms.push({ words: [t.text], prefix: t.kind === 'word' && i === parts.length - 1 });
    }
    flush();
  });
  // only the very last typed term follows typing: marked before duplicates go and the cap applies,
  // so a repeated word (`new york new`) or a cut cannot hand the prefix to another term
  const lastTyped = terms.length - 1;
  const seen = new Set<string>();
  const unique = terms
    .map((t, i) => ({ words: t.words, prefix: t.prefix && i === lastTyped }))
    .filter((t) => {
      const k = `${t.prefix}|${t.words.join(' ')}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  return unique.slice(0, MAX_TERMS);
}

// ---- snippets ----------------------------------------------------------------------------------

export interface Snippet {
  snippet: string;
  /** UTF-16 offsets into `snippet` (JavaScript string indices), ascending, non-overlapping. */
  highlights: Array<{ start: number; end: number }>;
}

const SNIPPET_LENGTH = 200;
const LEAD = 60;

/** Where the terms occur in a text: [start, end) spans of whole matches, ascending. */
export function matchSpans(tokens: Token[], terms: SearchTerm[]): Array<{ start: number; end: number; term: number }> {
  const spans: Array<{ start: number; end: number; term: number }> = [];
  terms.forEach((term, ti) => {
    const n = term.words.length;
    for (let i = 0; i + n <= tokens.length; i++) {
      let ok = true;
      for (let j = 0; j < n; j++) {
        const tok = (tokens[i + j] as Token).text;
        const w = term.words[j] as string;
        if (!(tok === w || (term.prefix && j === n - 1 && tok.startsWith(w)))) {
          ok = false;
          break;
        }
      }
      if (ok) spans.push({ start: (tokens[i] as Token).start, end: (tokens[i + n - 1] as Token).end, term: ti });
    }
  });
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  // drop spans nested in or overlapping an earlier one, so highlights never overlap
  const out: typeof spans = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && s.start < last.end) continue;
    out.push(s);
  }
  return out;
}

/**
 * A window of about 200 characters around the densest group of matches, cut at token
 * boundaries, with "…" where text was left out, and the matches' offsets inside it. Whitespace
 * becomes plain spaces one for one, so offsets are not disturbed.
 */
export function makeSnippet(text: string, terms: SearchTerm[]): Snippet {
  const tokens = analyze(text);
  const spans = matchSpans(tokens, terms);
  let from = 0;
  let to = text.length;
  if (text.length > SNIPPET_LENGTH) {
    // the window start that covers the most distinct terms (first such on ties)
    let bestAt = spans[0]?.start ?? 0;
    let bestScore = -1;
    for (const s of spans) {
      const covered = new Set(spans.filter((o) => o.start >= s.start && o.end <= s.start + SNIPPET_LENGTH - LEAD));
      const score = new Set([...covered].map((o) => o.term)).size;
      if (score > bestScore) {
        bestScore = score;
        bestAt = s.start;
      }
    }
    const first = tokens.find((t) => t.end > bestAt - LEAD && t.start >= Math.max(0, bestAt - LEAD));
    from = first && first.start <= bestAt ? first.start : bestAt;
    const limit = from + SNIPPET_LENGTH;
    let end = from;
    for (const t of tokens) {
      if (t.start < from) continue;
      if (t.end > limit) break;
      end = t.end;
    }
    to = end > from ? end : Math.min(text.length, limit);
    // a window never splits a surrogate pair
    if (/[\uD800-\uDBFF]/.test(text.charAt(to - 1))) to += 1;
  }
  const prefix = from > 0 ? '…' : '';
  const suffix = to < text.length ? '…' : '';
  const body = text.slice(from, to).replace(/\s/g, ' ');
  const shift = prefix.length - from;
  const highlights = spans
    .filter((s) => s.start >= from && s.end <= to)
    .map((s) => ({ start: s.start + shift, end: s.end + shift }));
  return { snippet: prefix + body + suffix, highlights };
}
