import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createClusterClients, delegatedTokenAuthenticator } from '../../lib/cluster/index.js';
import { testPki } from '../support/pki.js';
import { sendJson, startFakeApiserver, type FakeApiserver } from './fake-apiserver.js';

function kubeconfig(server: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'c',
        cluster: { server, 'certificate-authority-data': Buffer.from(testPki().servingCA.certPem).toString('base64') },
      },
    ],
    users: [{ name: 'u', user: { token } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });
}

describe('cluster/index factories', () => {
  let fake: FakeApiserver;
  let dir: string;
  before(async () => {
    fake = await startFakeApiserver((req, res) => {
      if (req.path.endsWith('/tokenreviews')) {
        sendJson(res, 201, {
          status: { authenticated: true, user: { username: 'u-' + String(req.headers.authorization) } },
        });
      } else {
        sendJson(res, 201, { status: { allowed: true, reason: String(req.headers.authorization) } });
      }
    });
    dir = mkdtempSync(join(tmpdir(), 'kda-index-'));
  });
  after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one kubeconfig: one shared client for TokenReview and SAR; the cached authenticator reviews once', async () => {
    const path = join(dir, 'one.yaml');
    writeFileSync(path, kubeconfig(fake.url, 'shared'));
    const clients = createClusterClients({ kubeconfig: path });
    try {
      expect(clients.authorization).to.equal(clients.authentication);
      const authn = delegatedTokenAuthenticator(clients.tokenReview);
      const a = await authn.authenticateToken('t');
      await authn.authenticateToken('t');
      expect(a.ok && a.user.name).to.equal('u-Bearer shared');
      expect(authn.stats()).to.include({ hits: 1, fetchOk: 1 });
    } finally {
      await clients.close();
    }
  });

  it('separate authentication and authorization kubeconfigs: separate clients and credentials', async () => {
    const a = join(dir, 'authn.yaml');
    const z = join(dir, 'authz.yaml');
    writeFileSync(a, kubeconfig(fake.url, 'authn-token'));
    writeFileSync(z, kubeconfig(fake.url, 'authz-token'));
    const clients = createClusterClients({ authenticationKubeconfig: a, authorizationKubeconfig: z });
    try {
      expect(clients.authorization).not.to.equal(clients.authentication);
      const r = await clients.tokenReview.create({ token: 't' });
      const s = await clients.subjectAccessReview.create({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user: 'x' },
      });
      expect(r.user?.username).to.equal('u-Bearer authn-token');
      expect(s.reason).to.equal('Bearer authz-token');
    } finally {
      await clients.close();
    }
  });

  it('no configuration at all: Go startup error', () => {
    expect(() => createClusterClients({ env: {} })).to.throw(/^failed to get delegated authentication kubeconfig: /);
  });
});
