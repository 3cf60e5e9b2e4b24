import { encodeUlid, ID_PREFIX, setUuidV7Bits } from '../ids.js';
import type { BulkConversation, BulkMessage, BulkToolInvocation } from './rows.js';
import { BOTS, EMOJI, LANGUAGE_WEIGHTS, LANGUAGES, type Language, TOOLS } from './vocabulary.js';

/**
 * Deterministic, realistic conversation data for benchmarks and demos. The same options and seed
 * give the same rows, ids included.
 *
 * Shape: tenant sizes are skewed (workspace i gets weight 1/(i+1)^1.5, so the first holds
 * about half of everything); turns per conversation follow a discrete Pareto with a median of
 * 2 and a long tail, scaled so the total lands near the message target; user messages average
 * ~70 tokens and assistant ones ~215 (≈0.75 words per token); ~30 % of assistant turns call a
 * tool; 70 % English, the rest Spanish, French, German, Japanese and Chinese, some emoji.
 */
export interface SeedOptions {
  workspaces: number;
  conversations: number;
  messages: number;
  seed: number;
  /** Newest timestamp; data spreads over the 180 days before it. */
  now: number;
}

/** A generated conversation: a bulk-load row (rows.ts) whose optional columns keep their defaults. */
export interface SeedConversation extends BulkConversation {
  userId: string;
  botId: string;
  title: string;
  messages: Array<BulkMessage & { role: 'user' | 'assistant' }>;
  tools: Array<BulkToolInvocation & { messageId: string; startedAt: number; finishedAt: number }>;
}

/** mulberry32: small, fast, good enough for data generation. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY = 86_400_000;

/** Conversations per independently seeded chunk: chunks can be generated on several threads. */
export const CHUNK = 500;

export class SeedGenerator {
  private rnd: () => number;
  readonly workspaceIds: string[];
  /** Conversations per workspace, skewed. */
  readonly plan: number[];
  private readonly turnScale: number;

  constructor(readonly opts: SeedOptions) {
    this.rnd = prng(opts.seed);
    this.workspaceIds = Array.from({ length: opts.workspaces }, (_, i) =>
      this.id('workspace', opts.now - 200 * DAY + i),
    );
    const weights = this.workspaceIds.map((_, i) => 1 / (i + 1) ** 1.5);
    const sum = weights.reduce((a, b) => a + b, 0);
    this.plan = weights.map((w) => Math.max(1, Math.round((w / sum) * opts.conversations)));
    // Pareto(xm=1, alpha) turns has median 2^(1/alpha); alpha=1 gives median 2 and a mean that
    // diverges, so cap the tail and scale by the message target instead.
    const wantedTurns = opts.messages / 2 / Math.max(1, opts.conversations);
    this.turnScale = wantedTurns;
  }

  private id(kind: keyof typeof ID_PREFIX, time: number): string {
    const bytes = new Uint8Array(10);
    for (let i = 0; i < 10; i++) bytes[i] = Math.floor(this.rnd() * 256);
    return ID_PREFIX[kind] + encodeUlid(Math.floor(time), setUuidV7Bits(bytes));
  }

  /** Zipf-ish pick: rank r with probability ∝ 1/(r+1). */
  private zipf<T>(items: readonly T[]): T {
    const n = items.length;
    const u = this.rnd();
    const r = Math.floor(Math.exp(u * Math.log(n + 1)) - 1);
    return items[Math.min(n - 1, Math.max(0, r))] as T;
  }

  private pickLanguage(): Language {
    let u = this.rnd();
    for (let i = 0; i < LANGUAGES.length; i++) {
      u -= LANGUAGE_WEIGHTS[i] ?? 0;
      if (u <= 0) return LANGUAGES[i] as Language;
    }
    return LANGUAGES[0] as Language;
  }

  /** Log-normal-ish length around `mean` words. */
  private length(mean: number): number {
    const g = (this.rnd() + this.rnd() + this.rnd() - 1.5) * 1.2;
    return Math.max(3, Math.round(mean * Math.exp(g) * 0.8));
  }

  private text(lang: Language, words: number): string {
    const parts: string[] = [];
    for (let i = 0; i < words; i++) {
      let w = this.zipf(lang.words);
      if (i === 0 && !lang.joined) w = w.charAt(0).toUpperCase() + w.slice(1);
      parts.push(w);
      if (!lang.joined && this.rnd() < 0.08) parts[parts.length - 1] += this.rnd() < 0.5 ? ',' : '.';
      if (this.rnd() < 0.01) parts.push(EMOJI[Math.floor(this.rnd() * EMOJI.length)] as string);
    }
    return lang.joined ? parts.join('') + '。' : parts.join(' ') + '.';
  }

  private turns(): number {
    // discrete Pareto, alpha = 1: median 2, capped long tail, then scaled to the target mean
    const u = Math.max(1e-9, this.rnd());
    const raw = Math.min(200, Math.floor(1 / u));
    // E[min(200, floor(1/u))] = H(200) ≈ 5.878
    return Math.max(1, Math.round((raw * this.turnScale) / 5.878));
  }

  /** The chunks, in order: [workspace index, first conversation, count]. */
  chunks(): Array<[number, number, number]> {
    const out: Array<[number, number, number]> = [];
    this.plan.forEach((count, w) => {
      for (let first = 0; first < count; first += CHUNK) out.push([w, first, Math.min(CHUNK, count - first)]);
    });
    return out;
  }

  /** Every conversation, workspace by workspace. */
  *conversations(): Generator<SeedConversation> {
    for (const [w, first, count] of this.chunks()) yield* this.chunk(w, first, count);
  }

  /** One chunk; its own random stream makes it the same whichever thread generates it. */
  *chunk(w: number, first: number, count: number): Generator<SeedConversation> {
    const { now } = this.opts;
    this.rnd = prng((this.opts.seed * 1_000_003 + w * 7919 + first) >>> 0);
    {
      const workspaceId = this.workspaceIds[w] as string;
      const users = Math.max(1, Math.ceil((this.plan[w] ?? 0) / 25));
      for (let c = 0; c < count; c++) {
        const lang = this.pickLanguage();
        const createdAt = Math.floor(now - 180 * DAY + this.rnd() * 179 * DAY);
        const id = this.id('conversation', createdAt);
        const messages: SeedConversation['messages'] = [];
        const tools: SeedConversation['tools'] = [];
        let t = createdAt;
        const turns = this.turns();
        for (let k = 0; k < turns; k++) {
          t += 1000 + Math.floor(this.rnd() * 120_000);
          messages.push({
            id: this.id('message', t),
            role: 'user',
            content: this.text(lang, this.length(52)),
            createdAt: t,
          });
          t += 500 + Math.floor(this.rnd() * 20_000);
          const assistantAt = t;
          const assistantId = this.id('message', assistantAt);
          messages.push({
            id: assistantId,
            role: 'assistant',
            content: this.text(lang, this.length(160)),
            createdAt: assistantAt,
          });
          if (this.rnd() < 0.3) {
            const started = assistantAt - 400;
            tools.push({
              id: this.id('toolInvocation', started),
              messageId: assistantId,
              toolName: this.zipf(TOOLS),
              input: JSON.stringify({ query: this.text(lang, 4) }),
              output: JSON.stringify({ results: Math.floor(this.rnd() * 20), summary: this.text(lang, 12) }),
              startedAt: started,
              finishedAt: started + 50 + Math.floor(this.rnd() * 2000),
            });
          }
        }
        const first = messages[0]?.content ?? '';
        const last = messages[messages.length - 1]?.createdAt ?? createdAt;
        yield {
          workspaceId,
          id,
          userId: `user_${w}_${Math.floor(this.rnd() * users)}`,
          botId: this.zipf(BOTS),
          title: first.length > 80 ? `${first.slice(0, 79)}…` : first,
          contactId: this.rnd() < 0.5 ? `contact_${Math.floor(this.rnd() * 5000)}` : null,
          dealId: this.rnd() < 0.3 ? `deal_${Math.floor(this.rnd() * 2000)}` : null,
          matterId: this.rnd() < 0.1 ? `matter_${Math.floor(this.rnd() * 500)}` : null,
          archived: this.rnd() < 0.15,
          createdAt,
          updatedAt: last,
          lastMessageAt: last,
          messages,
          tools,
        };
      }
    }
  }
}
