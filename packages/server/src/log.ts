import pino, { type Logger } from 'pino';
import type { Config } from './config.js';

/** JSON logs; credentials and idempotency keys never reach them. */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: 'parley' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          'req.headers["idempotency-key"]',
          'headers.authorization',
          'headers["x-api-key"]',
          'headers["idempotency-key"]',
          'secret',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
