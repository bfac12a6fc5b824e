import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { createCertificate, generateKeyPair } from '../../../lib/dev-pki/index.js';

/** The log line kube-apiserver writes when a TokenReview webhook call fails (after retries). */
export const webhookFailureLine = 'Failed to make webhook authenticator request';

export interface WebhookPki {
  /** CA that kube-apiserver trusts for our serving certificate (the kubeconfig's certificate-authority). */
  readonly servingCaFile: string;
  readonly servingCertPem: string;
  readonly servingKeyPem: string;
  readonly servingCertFile: string;
  readonly servingKeyFile: string;
  /** CA our webhook requires client certificates from (`--client-ca-file`). */
  readonly clientCaFile: string;
  /** kube-apiserver's client certificate for the webhook (the kubeconfig's users[].user). */
  readonly kasClientCertFile: string;
  readonly kasClientKeyFile: string;
}

/** Writes a serving CA + 127.0.0.1 serving cert, and a client CA + kube-apiserver client cert, into `dir`. */
export function writeWebhookPki(dir: string): WebhookPki {
  const key = generateKeyPair();
  const servingCa = createCertificate({ commonName: 'kda-webhook-serving-ca', isCA: true });
  const serving = createCertificate({
    commonName: 'kda-webhook',
    issuer: servingCa,
    keyPair: key,
    extKeyUsage: ['serverAuth'],
    ipAddresses: ['127.0.0.1'],
    dnsNames: ['localhost'],
  });
  const clientCa = createCertificate({ commonName: 'kda-webhook-client-ca', isCA: true });
  const kasClient = createCertificate({ commonName: 'kube-apiserver-webhook-client', issuer: clientCa, keyPair: key });
  const put = (name: string, pem: string) => {
    writeFileSync(join(dir, name), pem, { mode: 0o600 });
    return join(dir, name);
  };
  return {
    servingCaFile: put('serving-ca.crt', servingCa.certPem),
    servingCertPem: serving.certPem,
    servingKeyPem: serving.keyPem,
    servingCertFile: put('serving.crt', serving.certPem),
    servingKeyFile: put('serving.key', serving.keyPem),
    clientCaFile: put('client-ca.crt', clientCa.certPem),
    kasClientCertFile: put('kas-client.crt', kasClient.certPem),
    kasClientKeyFile: put('kas-client.key', kasClient.keyPem),
  };
}

/** A webhook kubeconfig: the server URL carries the path; kube-apiserver presents its client certificate. */
export function writeWebhookKubeconfig(path: string, server: string, pki: WebhookPki): string {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'webhook', cluster: { server, 'certificate-authority': pki.servingCaFile } }],
    users: [
      {
        name: 'kube-apiserver',
        user: { 'client-certificate': pki.kasClientCertFile, 'client-key': pki.kasClientKeyFile },
      },
    ],
    contexts: [{ name: 'webhook', context: { cluster: 'webhook', user: 'kube-apiserver' } }],
    'current-context': 'webhook',
  };
  writeFileSync(path, YAML.stringify(doc));
  return path;
}
