import { MANY_CONVERSATIONS } from '../types.js';

/** IN lists are padded to a multiple of this: a listMany read has four statement shapes, each compiled and prepared once. */
const STEP = 25;

export type ManyParams = { ws: string; limit: number } & Record<`c${number}`, string>;

/**
 * The parameters of a read over several conversations: `c0`..`c<n-1>` for the ids, padded with ''
 * (never a conversation id) up to the shape's size, which is returned with them.
 */
export function manyParams(ws: string, ids: readonly string[], limit: number): { size: number; params: ManyParams } {
  if (ids.length === 0 || ids.length > MANY_CONVERSATIONS)
    throw new Error(`listMany takes 1 to ${MANY_CONVERSATIONS} conversation ids, not ${ids.length}`);
  const size = Math.ceil(ids.length / STEP) * STEP;
  const params = { ws, limit } as ManyParams;
  for (let i = 0; i < size; i++) params[`c${i}`] = ids[i] ?? '';
  return { size, params };
}

/** The parameter names of a shape, in order (the builder's IN list). */
export const manyKeys = (size: number): Array<`c${number}`> => Array.from({ length: size }, (_, i) => `c${i}` as const);
