import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devPkiFiles, writeDevPki } from '../lib/dev-pki/index.js';
import type { LoadTls } from './load.js';

/** A throw-away dev PKI for scenarios that do not need the real control plane. */
export interface BenchPki {
  readonly dir: string;
  readonly servingCertFile: string;
  readonly servingKeyFile: string;
  readonly clientCaFile: string;
  readonly requestheaderClientCaFile: string;
  /** The load generator as the front-proxy (CN=front-proxy-client, from the front-proxy CA). */
  readonly frontProxyClient: LoadTls;
  /** The load generator as user `alice` (groups `developers`) with an x509 client cert from the client CA. */
  readonly alice: LoadTls;
  close(): void;
}

export function createBenchPki(): BenchPki {
  const dir = mkdtempSync(join(tmpdir(), 'kda-bench-'));
  writeDevPki(dir);
  const f = (n: string) => join(dir, n);
  const ca = readFileSync(f(devPkiFiles.servingCa), 'utf8');
  return {
    dir,
    servingCertFile: f(devPkiFiles.serving),
    servingKeyFile: f(devPkiFiles.servingKey),
    clientCaFile: f(devPkiFiles.clientCa),
    requestheaderClientCaFile: f(devPkiFiles.frontProxyCa),
    frontProxyClient: {
      ca,
      cert: readFileSync(f(devPkiFiles.frontProxyClient), 'utf8'),
      key: readFileSync(f(devPkiFiles.frontProxyClientKey), 'utf8'),
    },
    alice: { ca, cert: readFileSync(f('alice.crt'), 'utf8'), key: readFileSync(f('alice.key'), 'utf8') },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
