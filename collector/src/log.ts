import { pino, type Logger } from 'pino';

/** JSON lines on stdout; secrets are redacted should a config object ever be logged. */
export function createLogger(level: string): Logger {
  return pino({
    name: 'connlog-collector',
    level,
    redact: {
      paths: [
        'pass',
        'token',
        'password',
        '*.pass',
        '*.token',
        '*.password',
        'nats.pass',
        'nats.token',
        'clickhouse.password',
      ],
      censor: '[redacted]',
    },
  });
}
