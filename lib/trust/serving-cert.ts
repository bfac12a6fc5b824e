import { createSecureContext } from 'node:tls';
import { noopLogger } from '../log.js';
import { FileContent, type FileBacked, type FileProviderOptions } from './file-content.js';
import type { CertKeyPair, CertKeyProvider } from './interfaces.js';

/** Throws when the PEMs do not parse or the key does not match the certificate (e.g. a half-written rotation). */
function validatePair(cert: string, key: string): void {
  createSecureContext({ cert, key });
}

/** A serving pair that never changes (Go's static `CertKeyContent`); validated at construction. */
export function staticCertKeyPair(cert: string | Buffer, key: string | Buffer, name = 'serving-cert'): CertKeyProvider {
  const pair: CertKeyPair = Object.freeze({ cert: cert.toString(), key: key.toString(), version: 1 });
  validatePair(pair.cert, pair.key);
  return { name, current: () => pair, addListener: () => () => {} };
}

/** Options of {@link fileCertKeyPair}; the default name is `serving-cert::<certFile>::<keyFile>`, as in Go. */
export type FileCertKeyPairOptions = FileProviderOptions;

/** A {@link CertKeyProvider} backed by two PEM files, with `runOnce()`/`start()`/`close()` and load health. */
export interface FileCertKeyPairProvider extends CertKeyProvider, FileBacked {}

/**
 * Go's `DynamicCertKeyPairContent`: certificate and key are read together and validated as a pair, so a rotation
 * that has written one file but not yet the other keeps serving the last good pair until both have landed.
 */
export function fileCertKeyPair(
  certFile: string,
  keyFile: string,
  options: FileCertKeyPairOptions = {},
): FileCertKeyPairProvider {
  const content = new FileContent<CertKeyPair>({
    name: options.name ?? `serving-cert::${certFile}::${keyFile}`,
    paths: [certFile, keyFile],
    what: 'serving certificate',
    pollInterval: options.pollInterval ?? 60_000,
    logger: options.logger ?? noopLogger,
    parse: ([certBytes, keyBytes], version) => {
      const cert = certBytes!.toString('utf8');
      const key = keyBytes!.toString('utf8');
      validatePair(cert, key);
      return Object.freeze({ cert, key, version });
    },
  });
  return {
    name: content.name,
    current: () => content.current(),
    addListener: (listener) => content.addListener(listener),
    runOnce: () => content.runOnce(),
    start: () => content.start(),
    close: () => content.close(),
    health: content.health,
  };
}
