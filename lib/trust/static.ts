import { readFile, stat } from 'node:fs/promises';
import { KdaError } from '../errors.js';
import { noopLogger, type Logger } from '../log.js';
import type {
  CABundle,
  CABundleProvider,
  Listener,
  RequestHeaderConfig,
  RequestHeaderConfigProvider,
} from './interfaces.js';
import { notifyAll } from './mutable-provider.js';
import { parsePemBundle } from './pem.js';
import { delegatingDefaults, trustDefaults } from '../defaults.js';

/** A CA bundle that never changes: the static special case of a {@link CABundleProvider}. Parses at construction. */
export function staticCABundle(pem: string | Buffer, name = 'static-ca-bundle'): CABundleProvider {
  const parsed = parsePemBundle(pem, name);
  const bundle: CABundle = Object.freeze({ pem: parsed.pem, certificates: parsed.certificates, version: 1 });
  return {
    name,
    current: () => bundle,
    addListener: () => () => {},
  };
}

/** Go's default header lists for `--requestheader-*` flags (allowed names empty = any CN, UID not defaulted). */
export const defaultRequestHeaderConfig: RequestHeaderConfig = Object.freeze({
  usernameHeaders: delegatingDefaults.requestheaderUsernameHeaders,
  uidHeaders: delegatingDefaults.requestheaderUidHeaders,
  groupHeaders: delegatingDefaults.requestheaderGroupHeaders,
  extraHeaderPrefixes: delegatingDefaults.requestheaderExtraHeadersPrefix,
  allowedNames: delegatingDefaults.requestheaderAllowedNames,
});

/** A fixed request-header configuration; missing fields take Go's flag defaults. */
export function staticRequestHeaderConfig(
  config: Partial<RequestHeaderConfig> = {},
  name = 'static-request-header-config',
): RequestHeaderConfigProvider {
  const value: RequestHeaderConfig = Object.freeze({ ...defaultRequestHeaderConfig, ...config });
  return { name, current: () => value, addListener: () => () => {} };
}

export interface FileCABundleOptions {
  /** Provider name for logs; default `client-ca-bundle::<path>` as Go names DynamicFileCAContent. */
  readonly name?: string;
  /** How often start() checks the file for changes, in ms. Default 60000 (Go re-checks every minute). */
  readonly pollInterval?: number;
  readonly logger?: Logger;
}

/** A {@link CABundleProvider} backed by a PEM file, with `runOnce()`/`start()`/`close()`. */
export interface FileCABundleProvider extends CABundleProvider {
  /** Reads the file now. Rejects if it is unreadable or invalid and nothing good was loaded before. */
  runOnce(): Promise<void>;
  /** Polls the file until close(); a bad read keeps the last good bundle and is logged. */
  start(): void;
  close(): Promise<void>;
}

/**
 * Go's DynamicFileCAContent: the constructor does no I/O; `runOnce()` primes; `start()` re-reads on change (mtime,
 * size or bytes); listeners are notified only when the bytes change; a failed reload keeps the last good bundle.
 */
export function fileCABundle(path: string, options: FileCABundleOptions = {}): FileCABundleProvider {
  const name = options.name ?? `client-ca-bundle::${path}`;
  const logger = options.logger ?? noopLogger;
  const pollInterval = options.pollInterval ?? trustDefaults.pollInterval;
  const listeners = new Set<Listener>();
  let bundle: CABundle | undefined;
  let raw: Buffer | undefined;
  let lastStat = '';
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let inFlight: Promise<void> | undefined;

  const load = async (): Promise<void> => {
    const st = await stat(path);
    const sig = `${st.mtimeMs}:${st.size}:${st.ino}`;
    if (bundle && sig === lastStat) return;
    const bytes = await readFile(path);
    lastStat = sig;
    if (raw && raw.equals(bytes)) return;
    const parsed = parsePemBundle(bytes, name);
    raw = bytes;
    bundle = Object.freeze({
      pem: parsed.pem,
      certificates: parsed.certificates,
      version: (bundle?.version ?? 0) + 1,
    });
    logger.info({ name, version: bundle.version, certificates: parsed.certificates.length }, 'loaded a new CA bundle');
    notifyAll(listeners); // a throwing listener must not stop the others, nor make the reload look failed
  };

  const check = (): Promise<void> => {
    inFlight ??= load().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  return {
    name,
    current: () => bundle,
    addListener(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async runOnce() {
      if (closed) throw new KdaError('ERR_KDA_CLOSED', `${name} is closed`);
      try {
        await check();
      } catch (err) {
        if (!bundle) {
          throw err instanceof KdaError
            ? err
            : new KdaError('ERR_KDA_TRUST_UNAVAILABLE', `unable to load ${name}: ${(err as Error).message}`, {
                cause: err,
                details: { caName: name },
              });
        }
        logger.warn({ name, error: (err as Error).message }, 'keeping the last good CA bundle');
      }
    },
    start() {
      if (closed || timer) return;
      timer = setInterval(() => {
        check().catch((err: unknown) => {
          logger.warn({ name, error: (err as Error).message }, 'keeping the last good CA bundle');
        });
      }, pollInterval);
      timer.unref();
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      listeners.clear();
      await inFlight?.catch(() => {});
    },
  };
}
