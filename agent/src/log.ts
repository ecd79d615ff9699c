import { pino, type Logger } from 'pino';
import type { LogLevel } from './config/options.js';

/** JSON lines on stdout; secrets are redacted should a config object ever be logged. */
export function createLogger(level: LogLevel): Logger {
  return pino({
    name: 'connlog-agent',
    level,
    redact: {
      paths: ['pass', 'token', '*.pass', '*.token', 'nats.pass', 'nats.token'],
      censor: '[redacted]',
    },
  });
}
