import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificate, devPkiFiles, writeDevPki } from '../lib/dev-pki/index.js';
import type { LoadTls } from './load.js';
import { allowedGroup } from './review-peer.js';

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
  /** A client-certificate user in `bench:allowed` (may read flunders), from a bench CA inside `clientCaFile`. */
  readonly x509User: LoadTls;
  close(): void;
}

export function createBenchPki(): BenchPki {
  const dir = mkdtempSync(join(tmpdir(), 'kda-bench-'));
  writeDevPki(dir);
  const f = (n: string) => join(dir, n);
  const ca = readFileSync(f(devPkiFiles.servingCa), 'utf8');
  // The dev PKI's users are not in bench:allowed; one more CA in the client-CA bundle issues one who is.
  const usersCa = createCertificate({ commonName: 'kda-bench-users-ca', isCA: true });
  const user = createCertificate({ commonName: 'bench-x509-user', organizations: [allowedGroup], issuer: usersCa });
  const clientCaFile = f('client-ca-bundle.crt');
  writeFileSync(clientCaFile, readFileSync(f(devPkiFiles.clientCa), 'utf8') + usersCa.certPem);
  return {
    dir,
    servingCertFile: f(devPkiFiles.serving),
    servingKeyFile: f(devPkiFiles.servingKey),
    clientCaFile,
    requestheaderClientCaFile: f(devPkiFiles.frontProxyCa),
    frontProxyClient: {
      ca,
      cert: readFileSync(f(devPkiFiles.frontProxyClient), 'utf8'),
      key: readFileSync(f(devPkiFiles.frontProxyClientKey), 'utf8'),
    },
    alice: { ca, cert: readFileSync(f('alice.crt'), 'utf8'), key: readFileSync(f('alice.key'), 'utf8') },
    x509User: { ca, cert: user.certPem, key: user.keyPem },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
