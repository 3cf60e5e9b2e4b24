import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SeedGenerator } from '../src/seed/generator.js';
import { analyze, indexTokens, scanWithPattern, type Token } from '../src/store/search-terms.js';
import { propertySeed, withSeed } from './helpers/seed.js';

/**
 * The analyzer's fast scanner (ASCII words, separators and plain CJK decided per character) must
 * give exactly the tokens, offsets and kinds of the plain pattern scan, which defines them.
 */
function reference(text: string): Token[] {
  const out: Token[] = [];
  scanWithPattern(text, (t, start, end, kind) => {
    out.push({ text: t, start, end, kind });
  });
  return out;
}

// pieces chosen to sit on every boundary the scanner decides: ASCII runs next to accents,
// marks, keycaps, ZWJ sequences, flags, CJK (plain and compatibility forms), separators
const PIECES = [
  'a',
  'Z',
  'abc',
  'ABC',
  'x1',
  '9',
  '0',
  '#',
  '*',
  ' ',
  '.',
  ',',
  '-',
  '_',
  '"',
  '\t',
  '\n',
  '%',
  'é',
  'e\u0301',
  '\u0301',
  'ß',
  'Ω',
  'ς',
  'İ',
  'ﬁ',
  '¼',
  '²',
  'Ⅻ',
  'ℹ',
  '™',
  '©',
  '\uFE0F',
  '\uFE0E',
  '\u20E3',
  '\u200D',
  '1\uFE0F\u20E3',
  '#\u20E3',
  '*\uFE0F\u20E3',
  '🎉',
  '👍🏽',
  '👩\u200D💻',
  '🇫🇷',
  '🇫',
  '❤️',
  '☀',
  '東',
  '京',
  'の',
  'タ',
  'ｶ',
  '가',
  '豈',
  '〰',
  '。',
  '、',
  '・',
  'ー',
  '\u3099',
  '\uD840\uDC00',
  '\uD800',
  '\uDC00',
  '\u00A0',
  '\u2028',
  '…',
  '’',
  'x'.repeat(120),
  'É'.repeat(101),
];

describe('search analyzer: fast scanner = pattern scan', () => {
  test('random mixes of boundary pieces', async () => {
    const SEED = propertySeed('analyzer: boundary pieces');
    await withSeed(SEED, () =>
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 24 }), (parts) => {
          const text = parts.join('');
          assert.deepEqual(analyze(text), reference(text), JSON.stringify(text));
        }),
        { seed: SEED, numRuns: 3000 },
      ),
    );
  });

  test('arbitrary strings (full Unicode, lone surrogates included)', async () => {
    const SEED = propertySeed('analyzer: arbitrary strings');
    await withSeed(SEED, () =>
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ maxLength: 60 }), (a, b) => {
          for (const text of [a, b, a + b]) assert.deepEqual(analyze(text), reference(text), JSON.stringify(text));
        }),
        { seed: SEED, numRuns: 2000 },
      ),
    );
  });

  test('generated seed data in every language', () => {
    const gen = new SeedGenerator({
      workspaces: 2,
      conversations: 150,
      messages: 1500,
      seed: 5,
      now: Date.UTC(2026, 0, 1),
    });
    for (const c of gen.conversations()) {
      for (const text of [c.title, ...c.messages.map((m) => m.content)]) {
        assert.deepEqual(analyze(text), reference(text));
        assert.deepEqual(
          indexTokens(text),
          reference(text).map((t) => t.text),
        );
      }
    }
  });
});
