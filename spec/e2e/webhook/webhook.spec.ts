import { expect } from 'chai';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { waitForAuditEvents } from '../../../harness/audit-log.js';
import { startControlPlane, type ControlPlane } from '../../../harness/control-plane.js';
import { createClusterClients, KubeApiError } from '../../../lib/cluster/index.js';
import { configMapMappingSource, IdentityMapping } from '../../../lib/mapping/identity-mapping.js';
import { parseWebhookFlags, startWebhookCommand, type RunningWebhook } from '../../../cli/webhook.js';
import { eventually, recordingLogger } from '../../webhook/helpers.js';
import { webhookFailureLine, writeWebhookKubeconfig, writeWebhookPki } from './support.js';

const fixtures = new URL('../../../fixtures/webhook/', import.meta.url).pathname;

describe('e2e webhook: kube-apiserver with our TokenReview and SubjectAccessReview webhooks', function () {
  this.timeout(180_000);
  let dir: string;
  let running: RunningWebhook;
  let cp: ControlPlane;
  let agent: Agent;
  const logger = recordingLogger();

  before(async function () {
    this.timeout(240_000);
    dir = mkdtempSync(join(tmpdir(), 'kda-e2e-webhook-'));
    const f = (name: string) => join(dir, name);
    const pki = writeWebhookPki(dir);
    for (const n of ['tokens.csv', 'mapping.yaml', 'policy.yaml']) copyFileSync(join(fixtures, n), f(n));

    running = await startWebhookCommand(
      parseWebhookFlags([
        `--tls-cert-file=${pki.servingCertFile}`,
        `--tls-private-key-file=${pki.servingKeyFile}`,
        `--client-ca-file=${pki.clientCaFile}`,
        `--token-auth-file=${f('tokens.csv')}`,
        `--mapping-file=${f('mapping.yaml')}`,
        '--mapping-poll-interval=1s',
        `--authorization-policy-file=${f('policy.yaml')}`,
        '--bind-address=127.0.0.1',
        '--secure-port=0',
      ]),
      { logger },
    );
    const base = `https://127.0.0.1:${running.address.port}`;
    const authn = writeWebhookKubeconfig(f('authn.kubeconfig'), `${base}/authenticate`, pki);
    const authz = writeWebhookKubeconfig(f('authz.kubeconfig'), `${base}/authorize`, pki);
    cp = await startControlPlane({
      extraApiServerFlags: [
        `--authentication-token-webhook-config-file=${authn}`,
        // 1.20 defaults to v1beta1 for TokenReview; SAR is asked for v1 so both versions cross the wire.
        '--authentication-token-webhook-version=v1beta1',
        // No webhook cache (kube-apiserver still keeps its fixed 10 s success cache in front of all token authenticators).
        '--authentication-token-webhook-cache-ttl=0s',
        `--authorization-webhook-config-file=${authz}`,
        '--authorization-webhook-version=v1',
        '--authorization-webhook-cache-authorized-ttl=0s',
        '--authorization-webhook-cache-unauthorized-ttl=0s',
        // A string-slice flag: appended to the harness's RBAC, giving --authorization-mode=RBAC,Webhook.
        '--authorization-mode=Webhook',
      ],
    });
    agent = new Agent({ connect: { ca: cp.pki.ca.certPem } });
  });

  after(async function () {
    this.timeout(60_000);
    await agent?.close();
    await cp?.stop();
    await running?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function asToken(token: string, path: string) {
    const res = await request(`${cp.apiServerUrl}${path}`, {
      headers: { authorization: `Bearer ${token}` },
      dispatcher: agent,
    });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      text,
      json: (() => {
        try {
          return JSON.parse(text) as Record<string, unknown>;
        } catch {
          return undefined;
        }
      })(),
    };
  }

  it('a mapped token is authenticated with the mapped username and groups, and authorized by our webhook', async () => {
    const res = await asToken('t-alice-1', '/api/v1/namespaces/default/configmaps');
    expect(res.status, res.text).to.equal(200);
    const [ev] = await waitForAuditEvents(
      cp.auditLogPath,
      (e) => e.requestURI === '/api/v1/namespaces/default/configmaps',
      {
        user: 'user:token:alice-1',
        what: 'the mapped user listing configmaps',
      },
    );
    expect(ev!.user.groups).to.include.members(['devs', 'team:token:alice-1', 'system:authenticated']);
    expect(ev!.responseStatus?.code).to.equal(200);
    // Both versions crossed the wire and were echoed: v1beta1 TokenReview, v1 SubjectAccessReview.
    const versions = new Set(logger.lines.map((l) => l.fields.apiVersion).filter(Boolean));
    expect([...versions]).to.include.members(['authentication.k8s.io/v1beta1', 'authorization.k8s.io/v1']);
  });

  it('an explicit deny from our webhook is a 403 carrying its reason', async () => {
    const res = await asToken('t-bob', '/api/v1/namespaces/default/secrets');
    expect(res.status, res.text).to.equal(403);
    expect(String(res.json?.message)).to.include('User "bob" cannot list resource "secrets"');
    expect(String(res.json?.message)).to.include('bob may never read secrets');
  });

  it('"no opinion" from our webhook is a 403 (RBAC has none either)', async () => {
    const res = await asToken('t-bob', '/api/v1/namespaces/default/pods');
    expect(res.status, res.text).to.equal(403);
    expect(String(res.json?.message)).to.include('User "bob" cannot list resource "pods"');
  });

  it('refused tokens are 401 from kube-apiserver with no webhook-failure log line', async () => {
    for (const token of ['t-root', 'no-such-token']) {
      const res = await asToken(token, '/api/v1/namespaces/default/configmaps');
      expect(res.status, `${token}: ${res.text}`).to.equal(401);
    }
    // Positive control: kube-apiserver received our 200 answer and logged its status.error as the reason.
    await eventually(
      () => readFileSync(cp.apiServerLogPath, 'utf8').includes('identity is not mapped to a Kubernetes user'),
      'the refusal reason in the kube-apiserver log',
    );
    expect(readFileSync(cp.apiServerLogPath, 'utf8')).not.to.include(webhookFailureLine);
  });

  it('a broken mapping edit keeps the last good mapping; a good edit then applies through kube-apiserver', async () => {
    // kube-apiserver caches successful token authentications for 10 s whatever the webhook cache TTL (the
    // hard-coded TokenSuccessCacheTTL around its token union), so each step uses a token it has not seen yet.
    const file = join(dir, 'mapping.yaml');
    writeFileSync(file, 'mappings:\n  - match: { subject: "token:alice-*" }\n    username: [unterminated\n');
    await eventually(() => running.mapping!.status().lastError !== undefined, 'the mapping error');
    expect(running.mapping!.status()).to.include({ loaded: true, version: 1 });
    const mark = logger.lines.length;
    const still = await asToken('t-alice-2', '/api/v1/namespaces/default/configmaps');
    expect(still.status, still.text).to.equal(200);
    // The request really reached the webhook while the file was broken (not a kube-apiserver cache hit).
    expect(
      logger.lines.slice(mark).some((l) => l.msg === 'token authenticated' && l.fields.user === 'user:token:alice-2'),
    ).to.equal(true);

    // Alice's tokens lose "devs": the policy no longer lets them list configmaps.
    writeFileSync(
      file,
      'mappings:\n  - match: { subject: "token:alice-*" }\n    username: "user:{{subject}}"\n    groups: ["viewers"]\n',
    );
    await eventually(() => running.mapping!.status().version === 2, 'version 2');
    const now = await asToken('t-alice-3', '/api/v1/namespaces/default/configmaps');
    expect(now.status, now.text).to.equal(403);
    expect(String(now.json?.message)).to.include('User "user:token:alice-3" cannot list');
    const [ev] = await waitForAuditEvents(
      cp.auditLogPath,
      (e) => e.requestURI === '/api/v1/namespaces/default/configmaps',
      {
        user: 'user:token:alice-3',
        what: 'the remapped user',
      },
    );
    expect(ev!.user.groups).to.include('viewers').and.not.include('devs');
    expect(readFileSync(cp.apiServerLogPath, 'utf8')).not.to.include(webhookFailureLine);
  });

  it('a ConfigMap mapping source (read through lib/cluster) keeps the last good mapping on a bad edit and on deletion', async () => {
    const clients = createClusterClients({ kubeconfig: cp.adminKubeconfigPath });
    const path = '/api/v1/namespaces/kube-system/configmaps/kda-identity-mapping';
    const put = (text: string) =>
      cp.admin.apply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kda-identity-mapping', namespace: 'kube-system' },
        data: { 'mapping.yaml': text },
      });
    await put('mappings:\n  - match: { subject: "carol" }\n    username: "carol@example.com"\n    groups: ["devs"]\n');
    const mapping = new IdentityMapping({
      pollIntervalMs: 100,
      logger,
      source: configMapMappingSource({
        configMap: 'kube-system/kda-identity-mapping',
        key: 'mapping.yaml',
        async fetch(signal) {
          try {
            return (await clients.authentication.get<{ data?: Record<string, string> }>(path, { signal })).data ?? {};
          } catch (err) {
            if (err instanceof KubeApiError && err.statusCode === 404) return undefined;
            throw err;
          }
        },
      }),
    });
    try {
      await mapping.start();
      expect(mapping.map({ subject: 'carol' })?.groups).to.deep.equal(['devs']);

      await put('mappings:\n  - match: { subject: "carol" }\n    username: "system:admin"\n');
      await eventually(() => /reserved prefix/.test(mapping.status().lastError ?? ''), 'the validation error');
      expect(mapping.map({ subject: 'carol' })?.name).to.equal('carol@example.com');

      await cp.admin.delete(path);
      await eventually(() => /not found/.test(mapping.status().lastError ?? ''), 'the deletion error');
      expect(mapping.map({ subject: 'carol' })?.name).to.equal('carol@example.com');

      await put(
        'mappings:\n  - match: { subject: "carol" }\n    username: "carol@example.com"\n    groups: ["admins"]\n',
      );
      await eventually(() => mapping.status().version === 2, 'version 2');
      expect(mapping.status().lastError).to.equal(undefined);
      expect(mapping.map({ subject: 'carol' })?.groups).to.deep.equal(['admins']);
    } finally {
      await mapping.close();
      await clients.close();
    }
  });
});
