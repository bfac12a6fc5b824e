import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  identityFromToken,
  loadConnectionConfig,
  rolebindingFixCommand,
  tokenFileProvider,
} from '../../lib/cluster/kubeconfig.js';
import { KdaError } from '../../lib/errors.js';
import { testPki } from '../support/pki.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function jwt(claims: object): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'RS256' })}.${enc(claims)}.c2ln`;
}

function kubeconfigYaml(server: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
  });
}

describe('cluster/kubeconfig', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kda-kubeconfig-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('explicit path wins over KUBECONFIG', () => {
    const explicit = write('explicit.yaml', kubeconfigYaml('https://explicit:6443', { token: 'a' }));
    const env = write('env.yaml', kubeconfigYaml('https://env:6443', { token: 'b' }));
    const c = loadConnectionConfig({ kubeconfig: explicit, env: { KUBECONFIG: env } });
    expect(c.server).to.equal('https://explicit:6443');
    expect(c.token?.()).to.equal('a');
    expect(c.source).to.equal(`kubeconfig:${explicit}`);
  });

  it('KUBECONFIG is used when no path is given, before in-cluster', () => {
    const env = write('env2.yaml', kubeconfigYaml('https://env:6443/', { token: 'b' }));
    const c = loadConnectionConfig({
      env: { KUBECONFIG: env, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' },
    });
    expect(c.server).to.equal('https://env:6443');
  });

  it('maps client certificate data, CA data, tls-server-name and insecure-skip-tls-verify', () => {
    const pki = testPki();
    const p = write(
      'certs.yaml',
      kubeconfigYaml(
        'https://127.0.0.1:6443',
        { 'client-certificate-data': b64(pki.alice.certPem), 'client-key-data': b64(pki.alice.keyPem) },
        {
          'certificate-authority-data': b64(pki.servingCA.certPem),
          'tls-server-name': 'kubernetes',
          'insecure-skip-tls-verify': true,
        },
      ),
    );
    const c = loadConnectionConfig({ kubeconfig: p });
    expect(c.cert).to.equal(pki.alice.certPem);
    expect(c.key).to.equal(pki.alice.keyPem);
    expect(c.ca).to.equal(pki.servingCA.certPem);
    expect(c.tlsServerName).to.equal('kubernetes');
    expect(c.insecureSkipTlsVerify).to.equal(true);
    expect(c.token).to.equal(undefined);
    expect(c.identity).to.equal('alice');
  });

  it('a certificate without its key is a startup error', () => {
    const p = write(
      'nokey.yaml',
      kubeconfigYaml('https://x', { 'client-certificate-data': b64(testPki().alice.certPem) }),
    );
    expect(() => loadConnectionConfig({ kubeconfig: p })).to.throw(KdaError, /client-key/);
  });

  it('in-cluster: service-account token and CA, identity from the token subject, re-read after the refresh interval', () => {
    const sa = join(dir, 'sa');
    mkdirSync(sa);
    writeFileSync(join(sa, 'ca.crt'), testPki().servingCA.certPem);
    writeFileSync(join(sa, 'token'), jwt({ sub: 'system:serviceaccount:wardle:apiserver' }) + '\n');
    let now = 0;
    const c = loadConnectionConfig({
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      serviceAccountDir: sa,
      now: () => now,
    });
    expect(c.server).to.equal('https://[fd00::1]:443');
    expect(c.source).to.equal('in-cluster');
    expect(c.ca).to.equal(testPki().servingCA.certPem);
    expect(c.identity).to.equal('system:serviceaccount:wardle:apiserver');
    const first = c.token?.();
    writeFileSync(join(sa, 'token'), 'rotated');
    now += 59_999;
    expect(c.token?.()).to.equal(first);
    now += 1;
    expect(c.token?.()).to.equal('rotated');
  });

  it('nothing configured: Go startup message', () => {
    expect(() => loadConnectionConfig({ env: {} })).to.throw(
      KdaError,
      'failed to get delegated authentication kubeconfig: unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined',
    );
    expect(() => loadConnectionConfig({ env: {}, purpose: 'authorization' })).to.throw(
      /^failed to get delegated authorization kubeconfig: /,
    );
  });

  it('a missing kubeconfig file is a startup error naming the file', () => {
    expect(() => loadConnectionConfig({ kubeconfig: join(dir, 'nope.yaml') })).to.throw(
      KdaError,
      /failed to get delegated authentication kubeconfig: .*nope\.yaml/,
    );
  });

  it('token file provider keeps the last token when a re-read fails', () => {
    const p = write('tok', 'one');
    let now = 0;
    const t = tokenFileProvider(p, { now: () => now, tokenFileRefreshInterval: 10 });
    expect(t()).to.equal('one');
    rmSync(p);
    now = 100;
    expect(t()).to.equal('one');
  });

  const identityCases: readonly { name: string; token: string | undefined; expect: string | undefined }[] = [
    {
      name: 'bound SA token sub',
      token: jwt({ sub: 'system:serviceaccount:ns:sa' }),
      expect: 'system:serviceaccount:ns:sa',
    },
    {
      name: 'legacy SA token claims',
      token: jwt({
        'kubernetes.io/serviceaccount/namespace': 'ns',
        'kubernetes.io/serviceaccount/service-account.name': 'legacy',
      }),
      expect: 'system:serviceaccount:ns:legacy',
    },
    { name: 'opaque token', token: 'abcdef.0123456789abcdef', expect: undefined },
    { name: 'garbage three parts', token: 'a.b.c', expect: undefined },
    { name: 'no token', token: undefined, expect: undefined },
  ];
  for (const c of identityCases) {
    it(`identityFromToken: ${c.name}`, () => expect(identityFromToken(c.token)).to.equal(c.expect));
  }

  const fixCases: readonly { name: string; identity: string | undefined; expect: string }[] = [
    {
      name: 'service account',
      identity: 'system:serviceaccount:wardle:api',
      expect:
        'kubectl create rolebinding -n kube-system x --role=extension-apiserver-authentication-reader --serviceaccount=wardle:api',
    },
    {
      name: 'user',
      identity: 'wardle-server',
      expect:
        'kubectl create rolebinding -n kube-system x --role=extension-apiserver-authentication-reader --user=wardle-server',
    },
    {
      name: 'unknown identity',
      identity: undefined,
      expect:
        'kubectl create rolebinding -n kube-system x --role=extension-apiserver-authentication-reader --serviceaccount=<namespace>:<serviceaccount>',
    },
  ];
  for (const c of fixCases) {
    it(`rolebindingFixCommand: ${c.name}`, () => expect(rolebindingFixCommand(c.identity, 'x')).to.equal(c.expect));
  }
});
