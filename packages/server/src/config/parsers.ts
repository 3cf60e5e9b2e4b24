/**
 * Parsers of configuration values: each turns the raw text of one environment variable into a
 * value or a problem, and says in words which values it accepts (shown in error messages and in
 * the README table, so the range printed is the range enforced).
 */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

export interface Parser<T> {
  /** The accepted values in words, e.g. `1024 to 67108864` or `true, false`. */
  readonly allowed: string;
  /** A few values it accepts (the test sets each variable to one that differs from its default). */
  readonly examples: readonly string[];
  parse(raw: string): Parsed<T>;
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (problem: string): Parsed<never> => ({ ok: false, problem });

/** Any non-empty text, kept as written. */
export function text(allowed: string, examples: readonly string[]): Parser<string> {
  return { allowed, examples, parse: (raw) => ok(raw) };
}

/** A whole number in [min, max]; `scale` multiplies the value (seconds written, milliseconds kept). */
export function int(min: number, max: number, scale = 1): Parser<number> {
  return {
    allowed: `${min} to ${max}`,
    examples: [String(min), String(max)],
    parse(raw) {
      if (!/^\d+$/.test(raw.trim())) return bad('is not a whole number');
      const n = Number(raw);
      if (n < min || n > max) return bad('is out of range');
      return ok(n * scale);
    },
  };
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

export function bool(): Parser<boolean> {
  return {
    allowed: 'true or false (also 1/0, yes/no, on/off)',
    examples: ['yes', 'off'],
    parse(raw) {
      const v = raw.trim().toLowerCase();
      if (TRUE.includes(v)) return ok(true);
      if (FALSE.includes(v)) return ok(false);
      return bad('is not a boolean');
    },
  };
}

/** One of a fixed list, case-insensitive. */
export function oneOf<const V extends string>(values: readonly V[]): Parser<V> {
  return {
    allowed: values.join(', '),
    examples: values.map((v) => v.toUpperCase()),
    parse(raw) {
      const v = raw.trim().toLowerCase();
      return (values as readonly string[]).includes(v) ? ok(v as V) : bad('is not an allowed value');
    },
  };
}

/** A URL whose text matches one of the given patterns. */
export function url(allowed: string, patterns: readonly RegExp[], examples: readonly string[]): Parser<string> {
  return {
    allowed,
    examples,
    parse: (raw) => (patterns.some((p) => p.test(raw)) ? ok(raw) : bad('is not an accepted URL')),
  };
}

/** `*`, or a comma-separated list of `scheme://host[:port]` origins (`null`: what file:// pages send). */
export function origins(): Parser<readonly string[]> {
  return {
    allowed: '`*`, or comma-separated `scheme://host[:port]` (or `null`)',
    examples: ['https://a.example, http://b.example:8080', '*'],
    parse(raw) {
      const list = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const wrong = list.filter((o) => o !== '*' && o !== 'null' && !/^https?:\/\/[^/\s]+$/.test(o));
      if (wrong.length > 0) return bad(`has ${wrong.map((o) => JSON.stringify(o)).join(', ')}, not an origin`);
      return ok(Object.freeze(list));
    },
  };
}

/** A directory, resolved against the working directory. */
export function directory(resolve: (raw: string) => string): Parser<string> {
  return { allowed: 'a directory path', examples: ['/tmp/parley-x'], parse: (raw) => ok(resolve(raw)) };
}
