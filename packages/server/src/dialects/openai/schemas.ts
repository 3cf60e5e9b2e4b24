import { Type } from 'typebox';
import { Closed } from '../../http/schemas.js';
import { errorSchemas } from '../common.js';
import { OpenAIError } from './errors.js';

/** OpenAI metadata: up to 16 string pairs, keys up to 64 characters, values up to 512. */
export const Metadata = Type.Unsafe<Record<string, string>>({
  type: 'object',
  maxProperties: 16,
  propertyNames: { maxLength: 64 },
  additionalProperties: { type: 'string', maxLength: 512 },
});

/**
 * An input item, checked loosely here and exactly by the route (items.ts), so that a refusal
 * can name the item and say what Parley stores instead of a schema message.
 */
const InputItem = Type.Object({}, { additionalProperties: true });

export const CreateBody = Closed({
  items: Type.Optional(Type.Union([Type.Array(InputItem, { maxItems: 20 }), Type.Null()])),
  metadata: Type.Optional(Type.Union([Metadata, Type.Null()])),
});

export const UpdateBody = Closed({ metadata: Type.Union([Metadata, Type.Null()]) });

export const ItemsBody = Closed({ items: Type.Array(InputItem, { minItems: 1, maxItems: 20 }) });

const Include = Type.Optional(
  Type.Array(Type.String({ maxLength: 200 }), { maxItems: 20, description: 'Accepted; no include adds data here' }),
);
export const IncludeQuery = Closed({ include: Include });
export const ListQuery = Closed({
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'An item id' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'desc' })),
  include: Include,
});

export const ConversationParams = Closed({ conversation_id: Type.String({ minLength: 1, maxLength: 255 }) });
export const ItemParams = Closed({
  conversation_id: Type.String({ minLength: 1, maxLength: 255 }),
  item_id: Type.String({ minLength: 1, maxLength: 255 }),
});

export const ConversationSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('conversation'),
  created_at: Type.Integer({ description: 'Unix seconds' }),
  metadata: Type.Record(Type.String(), Type.String()),
});

export const DeletedSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('conversation.deleted'),
  deleted: Type.Boolean(),
});

const ContentPart = Type.Object({
  type: Type.String({ description: 'input_text or output_text' }),
  text: Type.String(),
  annotations: Type.Optional(Type.Array(Type.Unknown())),
});
export const ItemSchema = Type.Object({
  id: Type.String(),
  type: Type.Literal('message'),
  status: Type.Literal('completed'),
  role: Type.String(),
  content: Type.Array(ContentPart),
});

export const ItemListSchema = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(ItemSchema),
  first_id: Type.Union([Type.String(), Type.Null()]),
  last_id: Type.Union([Type.String(), Type.Null()]),
  has_more: Type.Boolean(),
});

export const errors = errorSchemas(OpenAIError, [400, 401, 403, 429, 500]);
