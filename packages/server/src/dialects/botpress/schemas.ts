import { Type } from 'typebox';
import { Closed, OneOf } from '../../http/schemas.js';

/** Default page size of the list calls. */
export const PAGE = 20;

export const Tags = Type.Record(Type.String(), Type.String());
/** Request maps: the official client sends `null` to remove a key (an empty string does too). */
export const NullableTags = Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]));
export const ConversationSchema = Type.Object({
  id: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  channel: Type.String(),
  integration: Type.String(),
  tags: Tags,
  messageCount: Type.Integer(),
  currentTaskId: Type.Optional(Type.String()),
  currentWorkflowId: Type.Optional(Type.String()),
  properties: Type.Optional(Tags),
});
export const MessageSchema = Type.Object({
  id: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  type: Type.String(),
  payload: Type.Record(Type.String(), Type.Unknown()),
  direction: OneOf(['incoming', 'outgoing']),
  userId: Type.String(),
  conversationId: Type.String(),
  tags: Tags,
  origin: Type.Optional(Type.Literal('synthetic')),
});

export const Headers = Type.Object(
  {
    'x-bot-id': Type.String({ minLength: 1, maxLength: 128, description: 'Bot id (required)' }),
    'x-integration-id': Type.Optional(Type.String({ maxLength: 128 })),
    'x-integration-alias': Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: true },
);
export const IdParams = Closed({ id: Type.String({ minLength: 1, maxLength: 255 }) });

export const ListConversationsQuery = Type.Object(
  {
    nextToken: Type.Optional(Type.String({ maxLength: 2048 })),
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: `Default ${PAGE}` })),
    sortField: Type.Optional(OneOf(['createdAt', 'updatedAt'])),
    sortDirection: Type.Optional(OneOf(['asc', 'desc'])),
    participantIds: Type.Optional(Type.Array(Type.String(), { maxItems: 50 })),
    integrationName: Type.Optional(Type.String()),
    channel: Type.Optional(Type.String()),
  },
  { additionalProperties: true, description: 'tags[key]=value filters are accepted too' },
);

export const GetOrCreateConversationBody = Closed({
  channel: Type.String({ minLength: 1, maxLength: 200 }),
  tags: NullableTags,
  integrationName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  properties: Type.Optional(NullableTags),
  discriminateByTags: Type.Optional(Type.Array(Type.String(), { maxItems: 50 })),
});

export const UpdateConversationBody = Closed({
  currentTaskId: Type.Optional(Type.String({ maxLength: 200 })),
  tags: Type.Optional(NullableTags),
  properties: Type.Optional(NullableTags),
});

export const ListMessagesQuery = Type.Object(
  {
    conversationId: Type.String({ minLength: 1, maxLength: 255 }),
    nextToken: Type.Optional(Type.String({ maxLength: 2048 })),
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: `Default ${PAGE}` })),
  },
  { additionalProperties: true },
);

/** Fields createMessage and getOrCreateMessage share: who, where and what type. */
const MessageAddress = {
  userId: Type.String({ minLength: 1, maxLength: 255 }),
  conversationId: Type.String({ minLength: 1, maxLength: 255 }),
  type: Type.String({ minLength: 1, maxLength: 100 }),
};
/** A synthetic origin (kept in the metadata) and a schedule (accepted, not applied: the message is stored at once). */
const MessageOptions = {
  origin: Type.Optional(OneOf(['synthetic'])),
  schedule: Type.Optional(
    Closed({
      dateTime: Type.Optional(Type.String({ maxLength: 64 })),
      delay: Type.Optional(Type.Number({ minimum: 0 })),
    }),
  ),
};

export const CreateMessageBody = Closed({
  payload: Type.Record(Type.String(), Type.Unknown()),
  ...MessageAddress,
  tags: Tags,
  ...MessageOptions,
});

export const GetOrCreateMessageBody = Closed({
  payload: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  ...MessageAddress,
  tags: NullableTags,
  ...MessageOptions,
  discriminateByTags: Type.Optional(Type.Array(Type.String(), { maxItems: 50 })),
});

export const UpdateMessageBody = Closed({
  tags: Type.Optional(NullableTags),
  payload: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

/** What the delete calls answer. */
export const EmptyAnswer = Type.Object({}, { additionalProperties: false, description: 'Always {}' });
