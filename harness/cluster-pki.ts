import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificate, generateKeyPair, type IssuedCertificate, type KeyPairPem } from '../lib/dev-pki/index.js';

/** Paths of the PEM files of a cluster PKI. */
export interface ClusterPkiPaths {
  readonly dir: string;
  /** Cluster CA (`--client-ca-file`): issues the serving cert and every client cert. */
  readonly caCert: string;
  readonly caKey: string;
  /** Front-proxy CA (`--requestheader-client-ca-file`), deliberately separate from the cluster CA. */
  readonly frontProxyCaCert: string;
  readonly frontProxyCaKey: string;
  /** kube-apiserver serving certificate (`IP:127.0.0.1`, `DNS:localhost`, `DNS:kubernetes.default.svc`). */
  readonly servingCert: string;
  readonly servingKey: string;
  /** `CN=kube-delegated-auth-admin, O=system:masters`. */
  readonly adminCert: string;
  readonly adminKey: string;
  /** `CN=front-proxy-client` with the clientAuth EKU (`--proxy-client-cert-file`). */
  readonly frontProxyClientCert: string;
  readonly frontProxyClientKey: string;
  /** RSA private key (`--service-account-signing-key-file`) and its public key (`--service-account-key-file`). */
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
}

/** A generated cluster PKI: the files plus the issuing certificates, to issue more certificates later. */
export interface ClusterPki {
  readonly paths: ClusterPkiPaths;
  readonly ca: IssuedCertificate;
  readonly frontProxyCa: IssuedCertificate;
  readonly admin: IssuedCertificate;
  readonly frontProxyClient: IssuedCertificate;
  readonly serviceAccount: KeyPairPem;
}

/** Name of the admin user (its client certificate CN). */
export const adminUserName = 'kube-delegated-auth-admin';

function writePair(dir: string, stem: string, c: IssuedCertificate): { cert: string; key: string } {
  const cert = join(dir, `${stem}.crt`);
  const key = join(dir, `${stem}.key`);
  writeFileSync(cert, c.certPem, { mode: 0o644 });
  writeFileSync(key, c.keyPem, { mode: 0o600 });
  return { cert, key };
}

/**
 * Generates the PKI a kube-apiserver needs for aggregation tests and writes it into `dir` (created if missing).
 * Leaf certificates share one RSA key to keep generation fast; the CAs and the service-account key have their own.
 */
export function createClusterPki(dir: string): ClusterPki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const leafKey = generateKeyPair();

  const ca = createCertificate({ commonName: 'kube-delegated-auth-cluster-ca', isCA: true });
  const frontProxyCa = createCertificate({ commonName: 'kube-delegated-auth-front-proxy-ca', isCA: true });
  const serving = createCertificate({
    commonName: 'kube-apiserver',
    issuer: ca,
    keyPair: leafKey,
    extKeyUsage: ['serverAuth'],
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
    ipAddresses: ['127.0.0.1', '10.96.0.1'],
  });
  const admin = createCertificate({
    commonName: adminUserName,
    organizations: ['system:masters'],
    issuer: ca,
    keyPair: leafKey,
    extKeyUsage: ['clientAuth'],
  });
  const frontProxyClient = createCertificate({
    commonName: 'front-proxy-client',
    issuer: frontProxyCa,
    keyPair: leafKey,
    extKeyUsage: ['clientAuth'],
  });
  const serviceAccount = generateKeyPair();

  const caFiles = writePair(dir, 'ca', ca);
  const fpCaFiles = writePair(dir, 'front-proxy-ca', frontProxyCa);
  const servingFiles = writePair(dir, 'apiserver', serving);
  const adminFiles = writePair(dir, 'admin', admin);
  const fpClientFiles = writePair(dir, 'front-proxy-client', frontProxyClient);
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  writeFileSync(saKey, serviceAccount.privateKeyPem, { mode: 0o600 });
  writeFileSync(saPub, serviceAccount.publicKeyPem, { mode: 0o644 });

  return {
    paths: {
      dir,
      caCert: caFiles.cert,
      caKey: caFiles.key,
      frontProxyCaCert: fpCaFiles.cert,
      frontProxyCaKey: fpCaFiles.key,
      servingCert: servingFiles.cert,
      servingKey: servingFiles.key,
      adminCert: adminFiles.cert,
      adminKey: adminFiles.key,
      frontProxyClientCert: fpClientFiles.cert,
      frontProxyClientKey: fpClientFiles.key,
      serviceAccountKey: saKey,
      serviceAccountPub: saPub,
    },
    ca,
    frontProxyCa,
    admin,
    frontProxyClient,
    serviceAccount,
  };
}

/** A client certificate issued by the cluster CA, so kube-apiserver authenticates it as `commonName`/`organizations`. */
export function issueClientCertificate(
  pki: ClusterPki,
  identity: { readonly commonName: string; readonly organizations?: readonly string[] },
): IssuedCertificate {
  return createCertificate({
    commonName: identity.commonName,
    organizations: identity.organizations ?? [],
    issuer: pki.ca,
    extKeyUsage: ['clientAuth'],
  });
}

/** A new front-proxy CA and `front-proxy-client` certificate, written next to the originals under a `stem` prefix. */
export interface FrontProxyRotation {
  readonly frontProxyCa: IssuedCertificate;
  readonly frontProxyClient: IssuedCertificate;
  readonly frontProxyCaCert: string;
  readonly frontProxyClientCert: string;
  readonly frontProxyClientKey: string;
}

/**
 * Generates a new front-proxy CA plus a client certificate (CN `clientCommonName`, default `front-proxy-client`)
 * and writes them into the PKI directory as `<stem>-front-proxy-ca.crt` etc. Pass the result to
 * `ControlPlane.restartApiServer` to make kube-apiserver use them.
 */
export function rotateFrontProxyCa(
  pki: ClusterPki,
  stem: string,
  clientCommonName = 'front-proxy-client',
): FrontProxyRotation {
  const frontProxyCa = createCertificate({ commonName: `kube-delegated-auth-front-proxy-ca-${stem}`, isCA: true });
  const frontProxyClient = createCertificate({
    commonName: clientCommonName,
    issuer: frontProxyCa,
    extKeyUsage: ['clientAuth'],
  });
  const ca = writePair(pki.paths.dir, `${stem}-front-proxy-ca`, frontProxyCa);
  const client = writePair(pki.paths.dir, `${stem}-front-proxy-client`, frontProxyClient);
  return {
    frontProxyCa,
    frontProxyClient,
    frontProxyCaCert: ca.cert,
    frontProxyClientCert: client.cert,
    frontProxyClientKey: client.key,
  };
}

/** A serving CA and a serving certificate for a host-run extension server reached through an APIService. */
export interface ExtensionServingPki {
  readonly ca: IssuedCertificate;
  readonly serving: IssuedCertificate;
}

/**
 * Serving CA + certificate for an extension server behind Service `serviceName` in `namespace`. The aggregator
 * verifies the server as `<service>.<namespace>.svc`, so that SAN is always present (plus localhost/127.0.0.1).
 */
export function createExtensionServingPki(
  serviceName: string,
  namespace: string,
  extraDnsNames: readonly string[] = [],
): ExtensionServingPki {
  const ca = createCertificate({ commonName: `${serviceName}-serving-ca`, isCA: true });
  const serving = createCertificate({
    commonName: `${serviceName}.${namespace}.svc`,
    issuer: ca,
    extKeyUsage: ['serverAuth'],
    dnsNames: [
      `${serviceName}.${namespace}.svc`,
      `${serviceName}.${namespace}.svc.cluster.local`,
      'localhost',
      ...extraDnsNames,
    ],
    ipAddresses: ['127.0.0.1'],
  });
  return { ca, serving };
}
