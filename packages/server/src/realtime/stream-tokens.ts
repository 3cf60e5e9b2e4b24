import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { AuthContext } from '../domain/types.js';
import { ParleyError } from '../errors.js';
import { authContextOf } from '../services/keys.js';
import type { Store } from '../store/types.js';

export const STREAM_TOKEN_PREFIX = 'pst_';
export const STREAM_TOKEN_MAX_TTL_SECONDS = 300;
export const STREAM_TOKEN_DEFAULT_TTL_SECONDS = 60;

interface Claims {
  /** workspace, conversation, key, expiry (epoch ms) */
  w: string;
  c: string;
  k: string;
  e: number;
}

const invalid = () => new ParleyError('invalid_key', 'Invalid or expired stream token');

/**
 * Short-lived stream tokens for browsers, which cannot set headers on a WebSocket or an
 * EventSource: HMAC-signed, bound to one workspace + conversation + key, at most 5 minutes.
 * Verification re-reads the key, so revoking it revokes its tokens.
 */
export class StreamTokens {
  constructor(
    private readonly secret: string,
    private readonly clock: Clock,
    private readonly store: Store,
  ) {}

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(`pst1.${body}`).digest('base64url');
  }

  mint(auth: AuthContext, conversationId: string, ttlSeconds: number): { token: string; expiresAt: number } {
    const ttl = Math.min(Math.max(1, ttlSeconds), STREAM_TOKEN_MAX_TTL_SECONDS);
    const claims: Claims = { w: auth.workspaceId, c: conversationId, k: auth.keyId, e: this.clock.now() + ttl * 1000 };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { token: `${STREAM_TOKEN_PREFIX}${body}.${this.sign(body)}`, expiresAt: claims.e };
  }

  static looksLikeToken(s: string): boolean {
    return s.startsWith(STREAM_TOKEN_PREFIX);
  }

  /** The caller the token stands for, if it is genuine, unexpired and made for this conversation. */
  async verify(token: string, conversationId: string | null): Promise<AuthContext & { conversationId: string }> {
    if (!token.startsWith(STREAM_TOKEN_PREFIX) || token.length > 2048) throw invalid();
    const [body, mac] = token.slice(STREAM_TOKEN_PREFIX.length).split('.');
    if (body === undefined || mac === undefined) throw invalid();
    const want = Buffer.from(this.sign(body));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw invalid();
    let claims: Claims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Claims;
    } catch {
      throw invalid();
    }
    const now = this.clock.now();
    if (typeof claims.e !== 'number' || claims.e <= now) throw invalid();
    if (conversationId !== null && claims.c !== conversationId) throw invalid();
    const key = await this.store.read(claims.w, (r) => r.keys.get(claims.k));
    const auth = key === null ? null : authContextOf(key, now);
    if (auth === null) throw invalid();
    return { ...auth, conversationId: claims.c };
  }
}
