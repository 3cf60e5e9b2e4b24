import { type TSchema, Type } from 'typebox';
import { Closed, OneOf } from '../../http/schemas.js';

export const TAG = 'Lexicon Labs';

export const ChatSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  user_id: Type.Union([Type.String(), Type.Null()]),
  tenant_id: Type.String({ description: 'The workspace id' }),
  title: Type.Union([Type.String(), Type.Null()]),
  config: Type.Object({ metadata: Type.Record(Type.String(), Type.Unknown()) }),
  created_at: Type.String(),
  updated_at: Type.String(),
  last_message_at: Type.Union([Type.String(), Type.Null()]),
});
export const ChatWithCount = Type.Object({ ...ChatSchema.properties, message_count: Type.Integer() });

export const MessageSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  chat_id: Type.String({ format: 'uuid' }),
  content: Type.String(),
  sender_role: Type.String({ description: 'user, assistant, system or tool' }),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  created_at: Type.String(),
});

const Id = Type.String({ minLength: 1, maxLength: 128 });
export const ChatParams = Closed({ chat_id: Type.String({ minLength: 1, maxLength: 255, description: 'Chat UUID' }) });
export const UserParams = Closed({ user_id: Id });
const Order = OneOf(['asc', 'desc']);

export const CreateBody = Closed({
  user_id: Id,
  title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

/** Lexicon's offset/limit/order query (offsets bounded so a page never scans without end). */
export const offsetQuery = (maxOffset: number) =>
  Closed({
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: maxOffset, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    order: Type.Optional(Order),
  });

/** Lexicon's page envelope: the items under their own key, then total, offset, limit, has_more. */
export const offsetPage = <K extends string, T extends TSchema>(key: K, item: T) =>
  Type.Object({
    [key]: Type.Array(item),
    total: Type.Integer(),
    offset: Type.Integer(),
    limit: Type.Integer(),
    has_more: Type.Boolean(),
  } as Record<K, ReturnType<typeof Type.Array<T>>> &
    Record<'total' | 'offset' | 'limit', ReturnType<typeof Type.Integer>> & {
      has_more: ReturnType<typeof Type.Boolean>;
    });
