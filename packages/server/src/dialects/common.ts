import type { TSchema } from 'typebox';

/** ISO 8601 to the second, as the LeadLex and Lexicon pages print timestamps. */
export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
export const isoSecondsOrNull = (ms: number | null): string | null => (ms === null ? null : isoSeconds(ms));

/** A surface's error responses for OpenAPI: the statuses a route names, plus those every route of it can answer. */
export const errorSchemas =
  (schema: TSchema, always: readonly number[]) =>
  (...statuses: number[]): Record<number, TSchema> =>
    Object.fromEntries([...statuses, ...always].map((s) => [s, schema]));
