import { KdaError } from '../errors.js';
import { noopLogger } from '../log.js';
import type { CABundle, CABundleProvider, RequestHeaderConfig, RequestHeaderConfigProvider } from './interfaces.js';
import { FileContent, type FileBacked, type FileProviderOptions } from './file-content.js';
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

/** Options of {@link fileCABundle}; the default name is `client-ca-bundle::<path>`, as Go names DynamicFileCAContent. */
export type FileCABundleOptions = FileProviderOptions;

/** A {@link CABundleProvider} backed by a PEM file, with `runOnce()`/`start()`/`close()` and load health. */
export interface FileCABundleProvider extends CABundleProvider, FileBacked {}

/**
 * Go's DynamicFileCAContent: the constructor does no I/O; `runOnce()` primes; `start()` re-reads on change (directory
 * watch plus a periodic re-read, see {@link FileContent}); listeners are notified only when the bytes change; a failed
 * reload keeps the last good bundle.
 */
export function fileCABundle(path: string, options: FileCABundleOptions = {}): FileCABundleProvider {
  const name = options.name ?? `client-ca-bundle::${path}`;
  const content = new FileContent<CABundle>({
    name,
    paths: [path],
    what: 'CA bundle',
    pollInterval: options.pollInterval ?? trustDefaults.pollInterval,
    logger: options.logger ?? noopLogger,
    parse: ([bytes], version) => {
      const parsed = parsePemBundle(bytes!, name);
      return Object.freeze({ pem: parsed.pem, certificates: parsed.certificates, version });
    },
  });
  return {
    name,
    current: () => content.current(),
    addListener: (listener) => content.addListener(listener),
    async runOnce() {
      try {
        await content.runOnce();
      } catch (err) {
        throw err instanceof KdaError
          ? err
          : new KdaError('ERR_KDA_TRUST_UNAVAILABLE', `unable to load ${name}: ${(err as Error).message}`, {
              cause: err,
              details: { caName: name },
            });
      }
    },
    start: () => content.start(),
    close: () => content.close(),
    health: content.health,
  };
}
