import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { writeKubeconfig } from '../harness/kube.js';
import type { RequestAttributes } from '../lib/authz/interfaces.js';
import { createDelegatedAuth } from '../lib/delegated-auth.js';
import { createMetrics, type KdaMetrics } from '../lib/metrics/metrics.js';
import { sendJson, startFakeApiserver, type FakeApiserver } from './cluster/fake-apiserver.js';
import { testPki } from './support/pki.js';

const attrs: RequestAttributes = {
  user: { name: 'alice', uid: '', groups: ['system:authenticated'], extra: {} },
  verb: 'list',
  resourceRequest: true,
  path: '/apis/sample.example.com/v1/namespaces/default/widgets',
  apiGroup: 'sample.example.com',
  apiVersion: 'v1',
  namespace: 'default',
  resource: 'widgets',
  subresource: '',
  name: '',
};

/** Series value by exact `name{labels}` key, or undefined when the series is absent. */
async function series(metrics: KdaMetrics, key: string): Promise<number | undefined> {
  const line = (await metrics.metrics()).split('\n').find((l) => l.startsWith(`${key} `));
  return line === undefined ? undefined : Number(line.slice(key.length + 1));
}

describe('createDelegatedAuth({ metrics }) (in-process fake kube-apiserver)', () => {
  let fake: FakeApiserver;
  let dir: string;
  let path: string;
  const metricsToClose: KdaMetrics[] = [];
  before(async () => {
    fake = await startFakeApiserver((req, res) => {
      if (req.path.endsWith('/tokenreviews')) {
        sendJson(res, 201, { status: { authenticated: true, user: { username: 'bob' } } });
      } else {
        sendJson(res, 201, { status: { allowed: true } });
      }
    });
    dir = mkdtempSync(join(tmpdir(), 'kda-delegated-auth-'));
    path = writeKubeconfig(join(dir, 'kubeconfig'), {
      server: fake.url,
      caPem: testPki().servingCA.certPem,
      token: 'extension-server',
    });
  });
  after(async () => {
    for (const m of metricsToClose) await m.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });
  function newMetrics(): KdaMetrics {
    const m = createMetrics();
    metricsToClose.push(m);
    return m;
  }

  it('counts each TokenReview and SubjectAccessReview call and the token cache', async () => {
    const metrics = newMetrics();
    const auth = createDelegatedAuth({ kubeconfig: path, metrics });
    try {
      const first = await auth.tokenAuthenticator!.authenticateToken('t');
      await auth.tokenAuthenticator!.authenticateToken('t');
      expect(first.ok && first.user.name).to.equal('bob');
      expect((await auth.authorizer.authorize(attrs)).decision).to.equal('Allow');
      expect(await series(metrics, 'apiserver_delegated_authn_request_total{code="201"}')).to.equal(1);
      expect(await series(metrics, 'apiserver_delegated_authz_request_total{code="201"}')).to.equal(1);
      expect(await series(metrics, 'authentication_token_cache_request_total{status="hit"}')).to.equal(1);
      expect(await series(metrics, 'kube_delegated_auth_authz_cache_misses_total')).to.equal(1);
    } finally {
      await auth.close();
    }
  });

  it('registers the trust sources until close(), which removes them (the metrics stay the caller’s)', async () => {
    const metrics = newMetrics();
    const auth = createDelegatedAuth({ kubeconfig: path, metrics });
    const loadedKey = `kube_delegated_auth_trust_loaded{name="${auth.trust.requestHeaderCA.name}"}`;
    expect(await series(metrics, loadedKey)).to.equal(0);
    await auth.close();
    expect(await series(metrics, loadedKey)).to.equal(undefined);
    await auth.close();
    expect(await metrics.metrics()).to.be.a('string');
  });

  it('without metrics nothing is recorded anywhere', async () => {
    const bystander = newMetrics();
    const auth = createDelegatedAuth({ kubeconfig: path });
    try {
      await auth.tokenAuthenticator!.authenticateToken('other');
      await auth.authorizer.authorize(attrs);
      expect(await series(bystander, 'apiserver_delegated_authn_request_total{code="201"}')).to.equal(undefined);
      expect(await series(bystander, 'apiserver_delegated_authz_request_total{code="201"}')).to.equal(undefined);
    } finally {
      await auth.close();
    }
  });
});
