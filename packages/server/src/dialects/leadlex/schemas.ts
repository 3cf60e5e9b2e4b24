import { Type } from 'typebox';
import { Bool, Closed } from '../../http/schemas.js';

export const Ctx = Type.Object(
  {
    contact_id: Type.Optional(Type.String()),
    deal_id: Type.Optional(Type.String()),
    matter_id: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const ListItem = Type.Object({
  id: Type.String(),
  title: Type.Union([Type.String(), Type.Null()]),
  message_count: Type.Integer(),
  last_message_at: Type.Union([Type.String(), Type.Null()]),
  context: Ctx,
  archived: Type.Boolean(),
  created_at: Type.String(),
});

export const LexiMessage = Type.Object({
  id: Type.String(),
  role: Type.String(),
  content: Type.String(),
  tool_calls: Type.Array(Type.Unknown()),
  tool_name: Type.Union([Type.String(), Type.Null()]),
  tool_output: Type.Unknown(),
  created_at: Type.String(),
});

const Id = Type.String({ minLength: 1, maxLength: 128 });

export const ListQuery = Closed({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 1 })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 25 })),
  search: Type.Optional(Type.String({ maxLength: 10_240 })),
  user_id: Type.Optional(Id),
  contact_id: Type.Optional(Id),
  deal_id: Type.Optional(Id),
  archived: Type.Optional(Bool),
});

/** No length bound of its own: LeadLex answers a malformed id with 404, so any id the router takes is looked up. */
export const Params = Closed({ id: Type.String({ minLength: 1, description: 'conv_… or UUID' }) });

export const GetQuery = Closed({
  include_tool_steps: Type.Optional(Bool),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
});

export const PatchBody = Closed({
  title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  archived: Type.Optional(Type.Boolean()),
  context: Type.Optional(
    Closed({
      contact_id: Type.Optional(Type.Union([Id, Type.Null()])),
      deal_id: Type.Optional(Type.Union([Id, Type.Null()])),
      matter_id: Type.Optional(Type.Union([Id, Type.Null()])),
    }),
  ),
});
