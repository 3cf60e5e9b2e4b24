import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
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
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (httpPart === 'body') return strict.compile(schema);
    const compiled = lenient.compile(schema);
    return httpPart === 'querystring' ? (strictQueryNumbers(schema, compiled) as typeof compiled) : compiled;
  });
}
