import { Type } from 'typebox';
import type { ParleyError } from '../../errors.js';
import { publicMessage } from '../../http/surface-errors.js';
import { errorSchemas } from '../common.js';

/** The body FastAPI gives an HTTPException; Lexicon's pages show none, so this is our choice. */
const Detail = Type.Object({ detail: Type.String() }, { description: 'FastAPI-style error: {"detail": "..."}' });
export const errors = errorSchemas(Detail, [401, 429, 500]);

export function detailFor(e: ParleyError): string {
  if (e.code === 'invalid_key') return 'Invalid or missing API key';
  if (e.code === 'method_not_allowed') return 'Method Not Allowed';
  if (e.code === 'conversation_busy') return 'Chat cannot be deleted: it has active WebSocket connections';
  if (e.code === 'not_found' && e.message === 'Conversation not found') return 'Chat not found';
  return publicMessage(e);
}

export const lexiconError = (e: ParleyError) => ({ body: { detail: detailFor(e) } });

export const lexiconNotFound = () => ({ detail: 'Not Found' });
