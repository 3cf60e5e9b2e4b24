import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { WebSocket } from 'ws';
import type { AuthContext, JsonObject, Message } from '../../domain/types.js';
import { notFound, ParleyError } from '../../errors.js';
import { findBadText } from '../../http/bad-text.js';
import { publicMessage, useErrorShape } from '../../http/surface-errors.js';
import type { App, AppDeps } from '../../http/types.js';
import type { ConversationEvent } from '../../realtime/events.js';
import type { Attached, Realtime } from '../../realtime/index.js';
import { closeCodeFor, parseFrame } from '../../realtime/routes.js';
import { actingUser, requireScope } from '../../services/context.js';
import { lexiconError } from './errors.js';
import { chatId, messageId } from './presenters.js';
import { TAG } from './schemas.js';

/** Longest message a client frame may carry, as on the native API. */
const MAX_CONTENT = 262_144;

type Frame = { event_type: string; timestamp: string } & Record<string, unknown>;

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
};

/**
 * Lexicon Labs' WebSocket `/ws/chat` over Parley's live streams: the socket attaches through
 * Realtime.attach (presence, hub, session ordering), so it counts as a live connection and the
 * chat cannot be deleted while it is open. Every refusal and every bad frame is an
 * `error` frame with a code from Parley's error catalog; refusals then close the socket.
 *
 * Credentials: `X-API-Key` / `X-User-ID` / `X-Chat-ID` headers, or the query parameters
 * `api_key` / `user_id` / `chat_id` (a documented quirk of the product: keys in URLs). The request
 * log records the path only, so the query never reaches the logs.
 */
export function registerLexiconSocket(app: App, deps: AppDeps, rt: Realtime): void {
  const svc = deps.conversations;
  const { config } = deps;
  const now = () => new Date(deps.clock.now()).toISOString();
  const frame = (event_type: string, data: Record<string, unknown>): Frame => ({
    event_type,
    timestamp: now(),
    ...data,
  });
  const errorFrame = (e: ParleyError): Frame =>
    frame('error', {
      code: e.code,
      message: publicMessage(e),
      ...(e.retryAfter !== undefined ? { retry_after: e.retryAfter } : {}),
    });

  /** The key's rate limit applies to opening a socket and to every message sent through it. */
  async function spend(auth: AuthContext): Promise<void> {
    const rate = await deps.limiter.hit(`key:${auth.keyId}`, auth.rateLimit ?? config.limits.rate);
    if (!rate.allowed) {
      const retry = Math.max(1, rate.reset - Math.floor(deps.clock.now() / 1000));
      throw new ParleyError('rate_limited', 'Rate limit exceeded', { retryAfter: retry });
    }
  }

  /** Checks a client frame `{content, metadata?}`; throws validation errors the socket reports. */
  function readClientFrame(data: unknown, isBinary: boolean): { content: string; metadata?: JsonObject } {
    const f = parseFrame(data, isBinary);
    if (f === null) throw new ParleyError('invalid_json', 'A frame must be a JSON object {"content", "metadata"?}');
    const unknown = Object.keys(f).filter((k) => k !== 'content' && k !== 'metadata');
    if (unknown.length > 0) throw new ParleyError('validation_failed', `/${unknown[0]} is not a known field`);
    const { content, metadata } = f;
    if (typeof content !== 'string' || content.length === 0) {
      throw new ParleyError('validation_failed', '/content must be a non-empty string');
    }
    if (content.length > MAX_CONTENT) {
      throw new ParleyError('validation_failed', `/content must be at most ${MAX_CONTENT} characters`);
    }
    if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
      throw new ParleyError('validation_failed', '/metadata must be an object');
    }
    const bad = findBadText(f, '');
    if (bad) throw new ParleyError('validation_failed', `${bad.field} ${bad.message}`, { details: [bad] });
    return metadata === undefined ? { content } : { content, metadata: metadata as JsonObject };
  }

  /**
   * What a Lexicon client sees of a conversation event. A user message written elsewhere is a
   * `message_received` with its content; any other role arrives as a stream of one token
   * (Parley stores whole messages). Tool and rename events have no Lexicon frame.
   */
  function framesFor(e: ConversationEvent, chat: string, own: Set<string>): Frame[] {
    if (e.type === 'conversation.deleted') {
      return [errorFrame(new ParleyError('not_found', 'Chat was deleted'))];
    }
    if (e.type !== 'message.created') return [];
    const m = JSON.parse(e.payload) as Message;
    // this socket's own message was acknowledged with message_received already
    if (own.delete(m.id)) return [];
    const ids = { message_id: messageId(m), chat_id: chat };
    const whole = {
      ...ids,
      content: m.content,
      sender_role: m.role,
      metadata: m.metadata,
      created_at: new Date(m.createdAt).toISOString(),
    };
    if (m.role === 'user') return [frame('message_received', whole)];
    return [
      frame('message_stream_started', { ...ids, sender_role: m.role }),
      frame('message_stream_token', { ...ids, token: m.content }),
      frame('message_stream_ended', whole),
    ];
  }

  app.register(async (scope) => {
    const r = scope as unknown as App;
    // a plain GET (no upgrade) answers in Lexicon's {"detail"} shape, like the rest of the surface
    useErrorShape(r, lexiconError);
    r.route({
      method: 'GET',
      url: '/ws/chat',
      config: { scope: 'public' },
      schema: {
        tags: [TAG],
        summary: 'Lexicon Labs chat WebSocket (docs/compat/lexicon.md)',
        description:
          'Credentials in the headers X-API-Key, X-User-ID, X-Chat-ID or the query api_key, user_id, chat_id. ' +
          'Client frames {content, metadata?}; server frames {event_type, timestamp, ...}.',
        querystring: Type.Object(
          {
            api_key: Type.Optional(Type.String({ description: 'The API key (prefer the X-API-Key header)' })),
            user_id: Type.Optional(Type.String()),
            chat_id: Type.Optional(Type.String({ description: 'Chat UUID' })),
          },
          { additionalProperties: true },
        ),
      },
      handler: async () => {
        throw new ParleyError('validation_failed', 'This endpoint needs a WebSocket upgrade');
      },
      wsHandler: (socket: WebSocket, request: FastifyRequest) => {
        // an upgraded request never reaches onResponse, which counts requests out
        deps.metrics.inflight.dec();
        rt.heartbeat.watch(socket);
        const q = (request.query ?? {}) as Record<string, unknown>;
        const pick = (h: string, k: string) => header(request, h) ?? (typeof q[k] === 'string' ? q[k] : undefined);
        const creds = {
          key: pick('x-api-key', 'api_key'),
          userId: pick('x-user-id', 'user_id'),
          chatId: pick('x-chat-id', 'chat_id'),
        };
        let attached: Attached | null = null;
        let closed = false;
        socket.once('close', () => {
          closed = true;
          attached?.detach();
        });
        const send = (f: Frame) => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(f));
        };
        const refuse = (err: unknown) => {
          const e = err instanceof ParleyError ? err : new ParleyError('internal_error', 'Internal server error');
          if (e.code === 'internal_error') request.log.error({ err }, 'Lexicon socket failed');
          attached?.detach();
          send(errorFrame(e));
          if (socket.readyState === socket.OPEN) socket.close(closeCodeFor(e), e.message.slice(0, 120));
        };

        interface Open {
          a: Attached;
          auth: AuthContext;
          conversationId: string;
          chat: string;
          own: Set<string>;
        }
        const opening = (async (): Promise<Open | null> => {
          if (creds.key === undefined) throw new ParleyError('invalid_key', 'Missing API key');
          const auth = await deps.keys.authenticate(creds.key);
          await spend(auth);
          requireScope(auth, 'read:ai');
          if (creds.chatId === undefined) throw new ParleyError('validation_failed', 'chat_id is required');
          if (creds.userId === undefined) throw new ParleyError('validation_failed', 'user_id is required');
          // a key bound to a user connects as that user only (403, as for a body or filter)
          actingUser(auth, creds.userId, '/query/user_id');
          const { conversation } = await svc.get(auth, creds.chatId, { limit: 1 });
          // the chat is addressed by (user, chat): another user's chat is as unknown as a missing one
          if (conversation.userId !== null && conversation.userId !== creds.userId) throw notFound();
          const chat = chatId(conversation);
          const own = new Set<string>();
          const a = await rt.attach(auth, conversation.id, {
            send: (e) => {
              if (socket.readyState !== socket.OPEN) return true;
              for (const f of framesFor(e, chat, own)) socket.send(JSON.stringify(f));
              return socket.bufferedAmount <= config.ws.maxBufferedBytes;
            },
            end: (code, reason) => {
              if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) {
                socket.close(code, reason);
              }
            },
          });
          attached = a;
          if (closed) {
            a.detach();
            return null;
          }
          send(frame('connection_established', { user_id: creds.userId, chat_id: chat, tenant_id: auth.workspaceId }));
          a.session.start(null, a.seq);
          return { a, auth, conversationId: conversation.id, chat, own };
        })().catch((err: unknown) => {
          refuse(err);
          return null;
        });

        // frames are handled one at a time (those sent before connection_established wait for
        // it), so a client's messages are stored in the order it sent them
        let queue: Promise<unknown> = opening;
        socket.on('message', (data, isBinary) => {
          queue = queue.then(async () => {
            const open = await opening;
            if (open === null || open.a.session.closed) return;
            try {
              const input = readClientFrame(data, isBinary);
              requireScope(open.auth, 'write:ai');
              await spend(open.auth);
              const m = await deps.messages.append(
                open.auth,
                open.conversationId,
                { role: 'user', content: input.content, metadata: input.metadata },
                // marked inside the transaction, so the event (published after commit) finds it
                async (_tx, message) => {
                  open.own.add(message.id);
                },
              );
              send(frame('message_received', { message_id: messageId(m), chat_id: open.chat }));
            } catch (err) {
              const e = err instanceof ParleyError ? err : new ParleyError('internal_error', 'Internal server error');
              if (e.code === 'internal_error') request.log.error({ err }, 'Lexicon socket message failed');
              send(errorFrame(e));
            }
          });
        });
      },
    });
  });
}
