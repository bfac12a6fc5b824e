import { isatty } from 'node:tty';
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
  /**
   * `json` (default): one JSON object per line, for collectors. `text`: one human-readable line per entry
   * (`04:12:09.311 WARN  msg key=value …`), same fields, same redaction. `auto`: text when `destination` is a file
   * descriptor on a terminal, JSON otherwise (what the bundled CLI uses).
   */
  readonly format?: 'json' | 'text' | 'auto';
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
  const format = options.format ?? 'json';
  const text = format === 'text' || (format === 'auto' && typeof dest === 'number' && isatty(dest));
  const raw =
    typeof dest === 'number' || typeof dest === 'string'
      ? pino.destination({ dest, sync: true })
      : (dest as DestinationStream);
  const stream = text ? textLines(raw) : raw;
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

/** Fields that every line has or that say nothing to a reader at a terminal. */
const textSkipped = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/**
 * Turns pino's JSON lines into one readable line each: `HH:MM:SS.mmm LEVEL msg key=value …` (values that are not
 * plain words are JSON-quoted, so a line stays one line). A small formatter of our own: pino-pretty is a worker-thread
 * transport with its own dependencies, and a terminal needs no more than this.
 */
function textLines(out: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
      const level = String(entry.level ?? '')
        .toUpperCase()
        .padEnd(5);
      const fields = Object.entries(entry)
        .filter(([k]) => !textSkipped.has(k))
        .map(([k, v]) => `${k}=${typeof v === 'string' && /^[\w./:@-]+$/.test(v) ? v : JSON.stringify(v)}`);
      out.write(
        `${[time, level, String(entry.msg ?? '').replace(/\n/g, '\\n'), ...fields].filter((p) => p !== '').join(' ')}\n`,
      );
    },
  };
}
