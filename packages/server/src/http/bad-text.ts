import type { ErrorDetail } from '../errors.js';

/**
 * Lone surrogates and NUL can't be stored by PostgreSQL; both engines refuse them the same way.
 * Numbers must be finite and within ±(2^53 − 1): JSON allows `1e400` (Infinity, which would be
 * stored as null) and integers a double cannot hold exactly (which would be stored changed).
 */
export function findBadText(value: unknown, where: string, depth = 0): ErrorDetail | null {
  if (depth > 64) return { field: where, message: 'nested too deeply (max 64 levels)' };
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER) {
      return {
        field: where,
        message: 'must be a finite number between -9007199254740991 and 9007199254740991 (send larger ones as strings)',
      };
    }
    return null;
  }
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return { field: where, message: 'must not contain NUL characters' };
    if (!value.isWellFormed()) return { field: where, message: 'must not contain lone UTF-16 surrogates' };
    return null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findBadText(value[i], `${where}/${i}`, depth + 1);
      if (bad) return bad;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const keyBad = findBadText(k, `${where}/${k}`, depth + 1);
      if (keyBad) return keyBad;
      const bad = findBadText(v, `${where}/${k}`, depth + 1);
      if (bad) return bad;
    }
  }
  return null;
}
