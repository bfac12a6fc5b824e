import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificate, generateKeyPair, type IssuedCertificate } from './certificates.js';

/** File names of the dev PKI written by `kube-delegated-auth certs` / `npm run certs`. */
export const devPkiFiles = {
  frontProxyCa: 'front-proxy-ca.crt',
  frontProxyCaKey: 'front-proxy-ca.key',
  frontProxyClient: 'front-proxy-client.crt',
  frontProxyClientKey: 'front-proxy-client.key',
  clientCa: 'client-ca.crt',
  clientCaKey: 'client-ca.key',
  servingCa: 'serving-ca.crt',
  servingCaKey: 'serving-ca.key',
  serving: 'serving.crt',
  servingKey: 'serving.key',
} as const;

/** Users with client certificates from the client CA: file stem → (CN, O). */
export const devPkiUsers: readonly {
  readonly file: string;
  readonly name: string;
  readonly groups: readonly string[];
}[] = [
  { file: 'admin', name: 'admin', groups: ['system:masters'] },
  { file: 'alice', name: 'alice', groups: ['developers'] },
  { file: 'bob', name: 'bob', groups: [] },
];

export interface DevPkiOptions {
  /** Extra DNS SANs of the serving certificate (always has localhost and the sample service name). */
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
}

/**
 * Writes a complete development PKI into `dir`: front-proxy CA + `front-proxy-client` cert, client CA + user certs,
 * serving CA + serving cert. Existing files are kept unless `overwrite` is set. Returns the file paths.
 */
export function writeDevPki(dir: string, opts: DevPkiOptions & { readonly overwrite?: boolean } = {}): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const marker = join(dir, devPkiFiles.serving);
  if (existsSync(marker) && !opts.overwrite) return [];
  const written: string[] = [];
  const put = (name: string, content: string, mode = 0o644) => {
    writeFileSync(join(dir, name), content, { mode });
    written.push(join(dir, name));
  };
  const pair = (stem: string, c: IssuedCertificate) => {
    put(`${stem}.crt`, c.certPem);
    put(`${stem}.key`, c.keyPem, 0o600);
  };
  const leafKey = generateKeyPair();

  const frontProxyCa = createCertificate({ commonName: 'kube-delegated-auth-front-proxy-ca', isCA: true });
  pair('front-proxy-ca', frontProxyCa);
  pair(
    'front-proxy-client',
    createCertificate({ commonName: 'front-proxy-client', issuer: frontProxyCa, keyPair: leafKey }),
  );

  const clientCa = createCertificate({ commonName: 'kube-delegated-auth-client-ca', isCA: true });
  pair('client-ca', clientCa);
  for (const u of devPkiUsers) {
    pair(
      u.file,
      createCertificate({ commonName: u.name, organizations: u.groups, issuer: clientCa, keyPair: leafKey }),
    );
  }

  const servingCa = createCertificate({ commonName: 'kube-delegated-auth-serving-ca', isCA: true });
  pair('serving-ca', servingCa);
  pair(
    'serving',
    createCertificate({
      commonName: 'localhost',
      issuer: servingCa,
      extKeyUsage: ['serverAuth'],
      dnsNames: [
        'localhost',
        'kube-delegated-auth-sample.kube-delegated-auth.svc',
        'kube-delegated-auth-sample.kube-delegated-auth.svc.cluster.local',
        ...(opts.dnsNames ?? []),
      ],
      ipAddresses: ['127.0.0.1', '::1', ...(opts.ipAddresses ?? [])],
    }),
  );
  return written;
}

export function readPem(dir: string, name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}
