export { Parley, type ParleyOptions } from './client.js';
export { type ErrorDetail, ParleyConnectionError, ParleyError, ParleyTimeoutError } from './errors.js';
export { OPERATIONS } from './operations.js';
export { type CursorPage, Paginated } from './pages.js';
export { type StreamEvent, Streams, type StreamToken, type SubscribeOptions } from './streams.js';
export {
  type ExportDownload,
  type ExportFormat,
  type ExportRecord,
  Exports,
  type ImportInput,
  type ImportReport,
  Imports,
} from './transfer.js';
export type { FetchLike } from './transport.js';
export type * from './types.js';
export { type VerifyOptions, verifyWebhook, WebhookVerificationError } from './webhooks.js';
