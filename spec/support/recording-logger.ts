// The specs' Logger that records what was logged: the one in-process stand-in for a log sink (the library takes any
// Logger), so a spec asserts the exact level, message and fields of a line, and can wait for one without a sleep.
import { EventEmitter } from 'node:events';
import type { Logger } from '../../lib/log.js';

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly msg: string;
}

/** A Logger that records each line in `lines` (clear it with `lines.length = 0`) and emits `line` on `logged`. */
export function recordingLogger(): Logger & { readonly lines: LogLine[]; readonly logged: EventEmitter } {
  const lines: LogLine[] = [];
  const logged = new EventEmitter();
  const at =
    (level: LogLine['level']) =>
    (fields: object, msg: string): void => {
      lines.push({ level, fields: fields as Record<string, unknown>, msg });
      logged.emit('line');
    };
  return { lines, logged, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
