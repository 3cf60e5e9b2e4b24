import pino, { type Logger } from 'pino';
import type { Config } from './config.js';

/** JSON logs; credentials and idempotency keys never reach them. */
export function createLogger(log: Config['log'], destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: log.level,
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
