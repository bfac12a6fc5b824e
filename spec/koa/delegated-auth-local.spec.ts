import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import Koa from 'koa';
import { request, type Agent } from 'undici';
import { staticPolicyAuthorizer, type StaticPolicy } from '../../lib/authz/static-policy.js';
import { createDelegatedAuth, type DelegatedAuthOptions } from '../../lib/delegated-auth.js';
import { InvalidOptionError, KdaError } from '../../lib/errors.js';
import { delegatedAuth, type KoaDelegatedAuth } from '../../lib/koa/delegated-auth.js';
import { withDelegatedAuth } from '../../lib/node-http/with-delegated-auth.js';
import { createCertificate } from '../../lib/dev-pki/index.js';
import { testCert, testPki, type TestCert } from '../support/pki.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';

// Local mode through the public factories, on real TLS: no kubeconfig, no cluster, trust from CA files.
const policy: StaticPolicy = {
  rules: [
    { users: ['bob'], verbs: ['*'], nonResourceURLs: ['*'], effect: 'deny', reason: 'bob is banned' },
    { users: ['alice', 'carol'], verbs: ['get', 'list'], apiGroups: ['sample.example.com'], resources: ['widgets'] },
  ],
};
const widgets = '/apis/sample.example.com/v1/namespaces/default/widgets';

interface Answer {
  readonly status: number;
  readonly body: { readonly [k: string]: unknown };
}

async function get(url: string, cert: TestCert | undefined, headers: Record<string, string> = {}): Promise<Answer> {
  const agent: Agent = clientAgent(cert);
  try {
    const res = await request(url, { dispatcher: agent, headers });
    const text = await res.body.text();
    return { status: res.statusCode, body: JSON.parse(text) as Answer['body'] };
  } finally {
    await agent.close();
  }
}

describe('local mode: delegatedAuth({ mode: "local", clientCaFile, requestheaderClientCaFile }) (real TLS)', () => {
  const pki = testPki();
  let dir: string;
  let clientCaFile: string;
  let requestheaderClientCaFile: string;
  let auth: KoaDelegatedAuth;
  let server: TestTlsServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kda-local-'));
    clientCaFile = join(dir, 'client-ca.crt');
    requestheaderClientCaFile = join(dir, 'front-proxy-ca.crt');
    writeFileSync(clientCaFile, pki.clientCA.certPem);
    writeFileSync(requestheaderClientCaFile, pki.frontProxyCA.certPem);
    auth = delegatedAuth({
      mode: 'local',
      clientCaFile,
      requestheaderClientCaFile,
      requestheaderAllowedNames: ['front-proxy-client'],
      authorizationAlwaysAllowGroups: [],
      additionalAuthorizers: [staticPolicyAuthorizer(policy)],
      pollInterval: 20,
    });
    await auth.start();
    const app = new Koa();
    app.use(auth.middleware);
    app.use((ctx) => {
      ctx.body = { user: ctx.state.user.name, groups: ctx.state.user.groups, spoofed: ctx.get('x-remote-user') };
    });
    server = await startTlsServer(app.callback());
  });
  after(async () => {
    await server?.close();
    await auth?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has no cluster parts and reports its two CA files as loaded', () => {
    expect(auth.clients).to.equal(undefined);
    expect(auth.tokenAuthenticator).to.equal(undefined);
    expect(auth.status()).to.deep.equal([
      { name: `client-ca-bundle::${clientCaFile}`, loaded: true },
      { name: `request-header::${requestheaderClientCaFile}`, loaded: true },
    ]);
  });

  it('admits a front-proxy user allowed by the static policy, identity headers removed downstream', async () => {
    const a = await get(server.url + widgets, pki.proxy, { 'X-Remote-User': 'alice', 'X-Remote-Group': 'devs' });
    expect(a.status).to.equal(200);
    expect(a.body).to.deep.equal({ user: 'alice', groups: ['devs', 'system:authenticated'], spoofed: '' });
  });

  it('refuses a front-proxy cert whose CN is not in requestheaderAllowedNames (401)', async () => {
    const a = await get(server.url + widgets, pki.proxyOtherCN, { 'X-Remote-User': 'alice' });
    expect(a.status).to.equal(401);
    expect(a.body.kind).to.equal('Status');
  });

  it('refuses spoofed identity headers without the proxy cert: anonymous, then 403 by the policy', async () => {
    const a = await get(server.url + widgets, undefined, { 'X-Remote-User': 'alice', 'X-Remote-Group': 'x' });
    expect(a.status).to.equal(403);
    expect(String(a.body.message)).to.contain('"system:anonymous"');
  });

  it('does not take a client-CA cert with the proxy CN as the front proxy: the cert user, spoofed header dropped', async () => {
    const a = await get(server.url + widgets, pki.clientProxyCN, { 'X-Remote-User': 'alice' });
    expect(a.status).to.equal(403);
    expect(String(a.body.message)).to.contain('"front-proxy-client"');
  });

  it('admits a client-certificate user allowed by the policy', async () => {
    const carol = createCarol(pki);
    const a = await get(server.url + widgets, carol, { 'X-Remote-User': 'bob' });
    expect(a.status).to.equal(200);
    expect(a.body).to.deep.equal({ user: 'carol', groups: ['team', 'system:authenticated'], spoofed: '' });
  });

  it('denies by the static policy: an explicit deny rule and an unmatched API group', async () => {
    const bob = await get(server.url + '/anything', pki.proxy, { 'X-Remote-User': 'bob' });
    expect(bob.status).to.equal(403);
    expect(String(bob.body.message)).to.contain('bob is banned');
    const named = await get(server.url + widgets + '/w1', pki.proxy, { 'X-Remote-User': 'alice' });
    expect(named.status).to.equal(200); // get on a named widget is allowed …
    const other = await get(server.url + '/apis/other.example.com/v1/things', pki.proxy, { 'X-Remote-User': 'alice' });
    expect(other.status).to.equal(403); // … another group is not
  });

  it('picks up a rotated requestheader CA file: the new CA admits, the old one no longer does', async () => {
    const changed = new Promise<void>((resolve) => {
      const remove = auth.trust.addListener(() => {
        remove();
        resolve();
      });
    });
    writeFileSync(requestheaderClientCaFile, pki.otherCA.certPem + '\n');
    await changed;
    const fromNew = await get(server.url + widgets, pki.proxyFromOtherCA, { 'X-Remote-User': 'alice' });
    expect(fromNew.status).to.equal(200);
    expect(fromNew.body.user).to.equal('alice');
    // As Go: a presented certificate no CA verifies is a 401, not anonymous.
    const fromOld = await get(server.url + widgets, pki.proxy, { 'X-Remote-User': 'alice' });
    expect(fromOld.status).to.equal(401);
    expect(fromOld.body.kind).to.equal('Status');
  });
});

let carol: TestCert | undefined;
/** Client CA → CN=carol, O=team: a client-certificate user outside system:masters. */
function createCarol(pki: ReturnType<typeof testPki>): TestCert {
  carol ??= testCert(
    createCertificate({
      commonName: 'carol',
      organizations: ['team'],
      keyPair: pki.sharedKey,
      issuer: pki.clientCA.issued,
    }),
  );
  return carol;
}

describe('local mode: the node:http adapter over createDelegatedAuth({ mode: "local" }) (real TLS)', () => {
  const pki = testPki();
  let dir: string;
  let server: TestTlsServer;
  let stack: ReturnType<typeof createDelegatedAuth>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kda-local-http-'));
    const file = join(dir, 'front-proxy-ca.crt');
    writeFileSync(file, pki.frontProxyCA.certPem);
    stack = createDelegatedAuth({
      mode: 'local',
      requestheaderClientCaFile: file,
      authorizationAlwaysAllowGroups: [],
      additionalAuthorizers: [staticPolicyAuthorizer(policy)],
    });
    await stack.start();
    const handler = withDelegatedAuth((_req: IncomingMessage, res: ServerResponse, state) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ user: state.user.name }));
    }, stack);
    server = await startTlsServer(handler);
  });
  after(async () => {
    await server?.close();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('admits the front-proxy user and refuses a client cert when no clientCaFile is given (401, as Go)', async () => {
    const ok = await get(server.url + widgets, pki.proxy, { 'X-Remote-User': 'alice' });
    expect(ok).to.deep.equal({ status: 200, body: { user: 'alice' } });
    const cert = await get(server.url + widgets, pki.alice);
    expect(cert.status).to.equal(401);
    expect(cert.body.kind).to.equal('Status');
  });
});

describe('local mode: options', () => {
  const problems = (options: DelegatedAuthOptions): readonly string[] => {
    try {
      createDelegatedAuth(options);
    } catch (err) {
      expect(err).to.be.instanceOf(InvalidOptionError);
      return (err as InvalidOptionError).problems;
    }
    expect.fail('expected an InvalidOptionError');
  };

  it('names every option that needs a cluster', () => {
    const p = problems({
      mode: 'local',
      clientCaFile: '/ca.crt',
      kubeconfig: '/kubeconfig',
      authenticationSkipLookup: true,
      authenticationTokenWebhookCacheTtl: 1,
      apiAudiences: ['x'],
    });
    expect(p).to.deep.equal([
      `"kubeconfig": not supported with mode 'local' (it needs a cluster)`,
      `"authenticationSkipLookup": not supported with mode 'local' (it needs a cluster)`,
      `"authenticationTokenWebhookCacheTtl": not supported with mode 'local' (it needs a cluster)`,
      `"apiAudiences": not supported with mode 'local' (it needs a cluster)`,
    ]);
  });

  it('needs at least one CA file, and CA file options must be paths', () => {
    expect(problems({ mode: 'local' })[0]).to.match(/^mode 'local' needs "clientCaFile" \(--client-ca-file\)/);
    expect(problems({ mode: 'local', clientCaFile: '' })).to.include(
      '"clientCaFile" (--client-ca-file): must be a non-empty file path',
    );
  });

  it('refuses an unknown mode', () => {
    expect(problems({ mode: 'nope' as 'local' })).to.deep.equal([`"mode": must be 'cluster' or 'local', got "nope"`]);
  });

  it('start() rejects naming the file when a CA file is missing or holds no certificate, and serves nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kda-local-bad-'));
    try {
      const missing = createDelegatedAuth({ mode: 'local', clientCaFile: join(dir, 'absent.crt') });
      const err1 = await missing.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err1).to.be.instanceOf(KdaError);
      expect((err1 as KdaError).message).to.contain(join(dir, 'absent.crt'));
      await missing.close();
      const garbage = join(dir, 'garbage.crt');
      writeFileSync(garbage, 'not a certificate');
      const bad = createDelegatedAuth({ mode: 'local', requestheaderClientCaFile: garbage });
      const err2 = await bad.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err2).to.be.instanceOf(KdaError);
      expect(bad.status()).to.deep.equal([{ name: `request-header::${garbage}`, loaded: false }]);
      await bad.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
