/** ISO 8601 to the second, as the LeadLex and Lexicon pages print timestamps. */
export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
export const isoSecondsOrNull = (ms: number | null): string | null => (ms === null ? null : isoSeconds(ms));
