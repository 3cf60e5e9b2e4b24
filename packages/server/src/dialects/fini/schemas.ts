import { type TSchema, Type } from 'typebox';
import { Closed, OneOf } from '../../http/schemas.js';

const DAY = 86_400_000;
export const FINI_DEFAULT_WINDOW = 7 * DAY;
export const FINI_MAX_WINDOW = 90 * DAY;
/** How many conversations one list request may look through for source/channel filters. */
export const FINI_SCAN_LIMIT = 1000;
export const FINI_SOURCES = [
  'api',
  'widget',
  'ui',
  'standalone',
  'testsuite',
  'replay',
  'zendesk',
  'intercom',
  'front',
  'hubspot',
  'salesforce',
  'gorgias',
  'livechat',
  'slack',
  'discord',
  'freshdesk',
  'freshchat',
] as const;

export const Nullable = (t: TSchema) => Type.Union([t, Type.Null()]);
export const SummarySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  createdAt: Type.Integer({ description: 'Epoch milliseconds' }),
  source: Type.String(),
  channel: Nullable(Type.String()),
  status: Type.String(),
  externalId: Nullable(Type.String()),
  url: Nullable(Type.String()),
  subjectPreview: Nullable(Type.String()),
  hasFeedback: Type.Boolean(),
  resolved: Type.Boolean(),
  userAttributes: Type.Record(Type.String(), Type.Unknown()),
  usedArticles: Type.Array(Type.Unknown()),
  usedSubfolders: Type.Array(Type.Unknown()),
});
const EventSchema = Type.Object({
  id: Type.String(),
  createdAt: Type.Integer(),
  role: Type.String({ description: 'user, finibot (assistant), system or tool' }),
  type: Type.Literal('message'),
  message: Type.String(),
  externalId: Nullable(Type.String()),
  externalCreatedAt: Nullable(Type.Integer()),
  csatRating: Type.Null(),
  feedback: Type.Null(),
  approved: Type.Null(),
  resolved: Type.Null(),
  attachments: Type.Array(Type.Unknown()),
  tags: Type.Array(Type.Unknown()),
  usedArticles: Type.Array(Type.Unknown()),
});
export const PublicConversation = Type.Object({ ...SummarySchema.properties, events: Type.Array(EventSchema) });

export const IdParams = Closed({ id: Type.String({ minLength: 1, maxLength: 255 }) });
const CsvList = Type.Array(Type.String({ maxLength: 1000 }), { maxItems: 50, description: 'CSV or repeated' });
export const ListQuery = Closed({
  since: Type.Optional(Type.Integer({ minimum: 0, description: 'Epoch ms; default until − 7 days' })),
  until: Type.Optional(Type.Integer({ minimum: 0, description: 'Epoch ms; default now' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'A conversation id' })),
  direction: Type.Optional(OneOf(['next', 'previous'], { description: 'next = older, previous = newer' })),
  botId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  source: Type.Optional(CsvList),
  channel: Type.Optional(CsvList),
});
export const BulkBody = Closed({
  ids: Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 50, uniqueItems: true }),
});

/** What the delete calls answer. */
export const SuccessAnswer = Type.Object({ success: Type.Boolean() });
