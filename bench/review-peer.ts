import { createServer, type Server } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchPki } from './pki.js';

/** Group the peer (and the real-cluster RBAC set up by bench/cluster.ts) allows to read flunders. */
export const allowedGroup = 'bench:allowed';
export const tokenPrefix = 'bench-token-';

/**
 * In-process SubjectAccessReview/TokenReview peer, used ONLY when the real kube-apiserver is unavailable. It answers
 * like kube-apiserver would for the bench's identities: SAR allowed iff the user is in `bench:allowed`; tokens
 * `bench-token-<n>` authenticate as `bench-token-user-<n>` in `bench:allowed`. Every row that used it says so.
 */
export interface ReviewPeer {
  readonly label: string;
  readonly url: string;
  /** A kubeconfig for the server under test pointing here. */
  readonly kubeconfigFile: string;
  readonly counts: { sar: number; tokenReview: number };
  resetCounts(): void;
  close(): Promise<void>;
}

export async function startReviewPeer(pki: BenchPki): Promise<ReviewPeer> {
  const counts = { sar: 0, tokenReview: 0 };
  const server: Server = createServer(
    { cert: readFileSync(pki.servingCertFile), key: readFileSync(pki.servingKeyFile) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let review: { spec?: Record<string, unknown> } = {};
        try {
          review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof review;
        } catch {
          res.writeHead(400).end();
          return;
        }
        const spec = review.spec ?? {};
        let status: Record<string, unknown>;
        if (req.url?.startsWith('/apis/authorization.k8s.io/v1/subjectaccessreviews')) {
          counts.sar++;
          const groups = (spec.groups as string[] | undefined) ?? [];
          status = groups.includes(allowedGroup)
            ? { allowed: true, reason: 'bench peer: member of bench:allowed' }
            : { allowed: false, reason: 'bench peer: not a member of bench:allowed' };
        } else if (req.url?.startsWith('/apis/authentication.k8s.io/v1/tokenreviews')) {
          counts.tokenReview++;
          const token = String(spec.token ?? '');
          status = token.startsWith(tokenPrefix)
            ? {
                authenticated: true,
                user: {
                  username: `bench-token-user-${token.slice(tokenPrefix.length)}`,
                  uid: '',
                  groups: [allowedGroup, 'system:authenticated'],
                },
              }
            : { authenticated: false, error: 'bench peer: unknown token' };
        } else {
          res.writeHead(404).end();
          return;
        }
        const body = JSON.stringify({ ...review, status });
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `https://127.0.0.1:${port}`;
  const kubeconfigFile = join(pki.dir, 'review-peer.kubeconfig');
  writeFileSync(
    kubeconfigFile,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: peer',
      '  cluster:',
      `    server: ${url}`,
      `    certificate-authority: ${join(pki.dir, 'serving-ca.crt')}`,
      '    tls-server-name: localhost',
      'users:',
      '- name: bench-server',
      '  user:',
      '    token: bench-server-token',
      'contexts:',
      '- name: peer',
      '  context: {cluster: peer, user: bench-server}',
      'current-context: peer',
      '',
    ].join('\n'),
  );
  return {
    label: 'in-process review peer (NOT kube-apiserver)',
    url,
    kubeconfigFile,
    counts,
    resetCounts() {
      counts.sar = 0;
      counts.tokenReview = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
