import { pino, type DestinationStream, type Level, type Logger as PinoLogger } from 'pino';
import { InvalidOptionError } from './errors.js';
import type { Logger } from './log.js';

/** Levels accepted by `createPinoLogger` (and the sample server's `--log-level`). */
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface PinoLoggerOptions {
  /** Lowest level written. Default `info` (refusals with an error are `warn`, requests without credentials `debug`). */
  readonly level?: LogLevel;
  /**
   * Where JSON lines go: a file descriptor (1 = stdout, 2 = stderr), a file path, or a stream (tests). Default 2,
   * like klog: stdout stays free for command output (the serve banner), and container runtimes collect both.
   */
  readonly destination?: number | string | DestinationStream | NodeJS.WritableStream;
  /** Fields on every line, e.g. `{ component: 'sample-apiserver' }`. Default `{ pid, hostname }` (pino's). */
  readonly base?: Record<string, unknown>;
}

/** A pino logger that satisfies lib/log.ts `Logger`; `pino` is the underlying instance (child loggers, flush). */
export type KdaPinoLogger = Logger & { readonly pino: PinoLogger };

// Refusal and review fields never carry secrets by construction; these catch a caller logging a raw request.
const redactPaths = [
  'authorization',
  'token',
  'password',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'spec.token',
];

/**
 * JSON-lines structured logging with pino: one object per line with `level` (a label, not pino's number, so `jq
 * 'select(.level=="warn")'` works), `time` (ISO 8601), `msg` and the fields the library passes (for a refusal:
 * `authenticator`, `check`, `subjectCN`, `issuer`, `caName`, `header`). Writes synchronously so that a crash does
 * not lose the line that explains it.
 */
export function createPinoLogger(options: PinoLoggerOptions = {}): KdaPinoLogger {
  const level = options.level ?? 'info';
  if (!(logLevels as readonly string[]).includes(level)) {
    throw new InvalidOptionError([
      `"level" (--log-level) must be one of ${logLevels.join(', ')}, got ${String(level)}`,
    ]);
  }
  const dest = options.destination ?? 2;
  const stream =
    typeof dest === 'number' || typeof dest === 'string'
      ? pino.destination({ dest, sync: true })
      : (dest as DestinationStream);
  const instance = pino(
    {
      level: level as Level | 'silent',
      ...(options.base !== undefined && { base: options.base }),
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths, censor: '[redacted]' },
    },
    stream,
  );
  return {
    pino: instance,
    debug: (fields, msg) => instance.debug(fields, msg),
    info: (fields, msg) => instance.info(fields, msg),
    warn: (fields, msg) => instance.warn(fields, msg),
    error: (fields, msg) => instance.error(fields, msg),
  };
}
