import { debuglog } from 'node:util';

/** A pino-compatible logger: `logger.warn({ fields }, 'message')`. */
export interface Logger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

const debug = debuglog('kube-delegated-auth');

function emit(level: string) {
  return (fields: object, msg: string): void => {
    if (debug.enabled) debug('%s %s %j', level, msg, fields);
  };
}

/** The default logger: silent unless NODE_DEBUG=kube-delegated-auth. */
export const noopLogger: Logger = {
  debug: emit('debug'),
  info: emit('info'),
  warn: emit('warn'),
  error: emit('error'),
};
