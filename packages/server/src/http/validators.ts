import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyValidationResult } from 'fastify/types/schema.js';
import { SHARED_SCHEMAS } from './schemas.js';
import { strictQueryNumbers } from './strict-input.js';
import type { App } from './types.js';

/**
 * Schema validation: bodies are not coerced (a number where a string belongs is a 400); query
 * strings, params and headers are, since they arrive as text.
 */
export function registerValidators(app: App): void {
  const strict = new Ajv({
    allErrors: true,
    coerceTypes: false,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
  });
  const lenient = new Ajv({
    allErrors: true,
    coerceTypes: 'array',
    useDefaults: true,
    removeAdditional: false,
    strict: false,
  });
  addFormats.default(strict);
  addFormats.default(lenient);
  for (const s of SHARED_SCHEMAS) {
    strict.addSchema(s);
    lenient.addSchema(s);
    app.addSchema(s);
  }
  app.setValidatorCompiler(({ schema, httpPart }) =>
    lazily(() => {
      if (httpPart === 'body') return strict.compile(schema);
      const compiled = lenient.compile(schema);
      return httpPart === 'querystring' ? (strictQueryNumbers(schema, compiled) as typeof compiled) : compiled;
    }),
  );
}

type Check = FastifyValidationResult;

/**
 * A validator compiled the first time it runs, not when its route is registered: Ajv's code
 * generation for every schema part of every route of the five surfaces was a quarter of a start's
 * CPU (a CLI-started server or a short-lived instance answers a few routes). Fastify reads a failed
 * check's `errors` from the function it was given, so they are copied onto the wrapper. A schema
 * Ajv cannot compile fails its route's first request instead of the start; the route-contract and
 * battery suites send a request to every route of every surface, so such a schema fails a test.
 */
export function lazily(compile: () => Check): Check {
  let check: Check | undefined;
  const run: Check = (data: unknown) => {
    check ??= compile();
    const ok = check(data);
    run.errors = check.errors;
    return ok;
  };
  return run;
}
