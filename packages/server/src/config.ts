import { CONFIG_VARIABLES, type ConfigSpec, type Variable } from './config/spec.js';

export { CONFIG_SPEC, CONFIG_VARIABLES, type ConfigGroup, type ConfigVariable, LOG_LEVELS } from './config/spec.js';

/**
 * Configuration: read the environment once, validate every variable of the spec
 * (src/config/spec.ts), report every problem at once, freeze. Defaults give the zero-config
 * SQLite mode. The README table is generated from the same spec (`npm run docs:config`).
 */
export type Config = {
  readonly [G in keyof ConfigSpec]: {
    readonly [F in keyof ConfigSpec[G]]: ConfigSpec[G][F] extends Variable<infer T> ? T : never;
  };
};

/** Values that win over the environment, per group (tests, benchmarks, embedders). */
export type ConfigOverrides = { readonly [G in keyof Config]?: Partial<Config[G]> };

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env, overrides: ConfigOverrides = {}): Config {
  const problems: string[] = [];
  const resolved = new Map<string, unknown>();
  const groups: Record<string, Record<string, unknown>> = {};
  const set = (raw: string | undefined): raw is string => raw !== undefined && raw !== '';

  for (const v of CONFIG_VARIABLES) {
    const given = (overrides as Record<string, Record<string, unknown> | undefined>)[v.group]?.[v.field];
    // an override wins (and is what later derived defaults see); then the PARLEY_ name; the
    // fallback name is read only when that is unset or empty
    const source =
      given !== undefined
        ? null
        : set(env[v.env])
          ? v.env
          : v.fallback !== undefined && set(env[v.fallback])
            ? v.fallback
            : null;
    let value: unknown = given ?? null;
    if (source !== null) {
      const raw = env[source] as string;
      const parsed = v.parser.parse(raw);
      if (parsed.ok) value = parsed.value;
      else {
        const shown = JSON.stringify(v.secret ? redact(raw) : raw);
        const read = source === v.env ? '' : ` (read for ${v.env})`;
        problems.push(`${source}=${shown}${read} ${parsed.problem}; allowed: ${v.parser.allowed}`);
      }
    }
    if (given === undefined && value === null && v.default !== null) {
      const text = typeof v.default === 'string' ? v.default : v.default((name) => resolved.get(name));
      const parsed = v.parser.parse(text);
      if (!parsed.ok) throw new Error(`the default of ${v.env} (${text}) is refused by its own parser`);
      value = parsed.value;
    }
    if (v.limit !== undefined && value !== null) value = v.limit(value, (name) => resolved.get(name));
    resolved.set(v.env, value);
    groups[v.group] ??= {};
    (groups[v.group] as Record<string, unknown>)[v.field] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems);

  for (const g of Object.values(groups)) Object.freeze(g);
  return Object.freeze(groups) as unknown as Config;
}

/** `b` over `a`, field by field within each group. */
export function mergeOverrides(a: ConfigOverrides, b: ConfigOverrides): ConfigOverrides {
  const out: Record<string, object> = {};
  for (const g of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof Config>) {
    out[g] = { ...a[g], ...b[g] };
  }
  return out as ConfigOverrides;
}

/** Hides a password in a URL before it is printed. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}
