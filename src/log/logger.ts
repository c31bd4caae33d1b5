import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = Pick<PinoLogger, 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'child'>;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Field names that could carry a secret if someone ever logged a request or a credentials
 * object. The code never logs them; this is the second line of defence.
 */
const REDACT = [
  'secretKey',
  'securityToken',
  'accessKey',
  'password',
  'authorization',
  'headers.authorization',
  'headers["x-security-token"]',
  '*.secretKey',
  '*.securityToken',
  '*.accessKey',
  '*.password',
  '*.authorization',
];

/**
 * JSON lines on stderr (stdout stays free for command output such as --help), written
 * synchronously so that the last lines before an exit are not lost.
 */
export function createLogger(level: LogLevel = 'info', destination: number | NodeJS.WritableStream = 2): Logger {
  const stream = typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination;
  return pino(
    {
      level,
      base: { app: 'cph-exporter' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
