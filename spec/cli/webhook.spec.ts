import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { spawn } from 'node:child_process';
import { connect } from 'node:tls';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { InvalidOptionError } from '../../lib/errors.js';
import { parseWebhookFlags, startWebhookCommand, type RunningWebhook } from '../../cli/webhook.js';
import { createCertificate } from '../../lib/dev-pki/index.js';
import { testPki } from '../support/pki.js';
import { eventually, post, recordingLogger, type Served } from '../webhook/helpers.js';

const fixtures = new URL('../../fixtures/webhook/', import.meta.url).pathname;
const v1 = 'authentication.k8s.io/v1';
const tokenReview = (token: string) => ({ apiVersion: v1, kind: 'TokenReview', spec: { token } });
const sar = (user: string, groups: string[], verb: string, resource: string) => ({
  apiVersion: 'authorization.k8s.io/v1beta1',
  kind: 'SubjectAccessReview',
  spec: { user, group: groups, resourceAttributes: { namespace: 'default', verb, group: '', version: 'v1', resource } },
});

describe('webhook/parseWebhookFlags', () => {
  const base = ['--tls-cert-file', 'c.pem', '--tls-private-key-file=k.pem', '--token-auth-file', 't.csv'];
  it('parses Go-named flags with defaults', () => {
    const o = parseWebhookFlags([
      ...base,
      '--secure-port',
      '0',
      '--mapping-file',
      'm.yaml',
      '--mapping-poll-interval=1m30s',
    ]);
    expect(o).to.deep.include({
      tlsCertFile: 'c.pem',
      tlsPrivateKeyFile: 'k.pem',
      tokenAuthFile: 't.csv',
      mappingFile: 'm.yaml',
      mappingPollInterval: 90_000,
      securePort: 0,
      bindAddress: '0.0.0.0',
      maxBodyBytes: 1048576,
      help: false,
    });
  });

  // `only`: these are all the problems (an unknown flag's value is not reported again as a stray argument).
  const bad: readonly { name: string; argv: string[]; expect: RegExp[]; only?: boolean }[] = [
    {
      name: 'missing TLS files',
      argv: ['--token-auth-file', 't'],
      expect: [/^--tls-cert-file: required$/, /^--tls-private-key-file: required$/],
    },
    {
      name: 'nothing to serve',
      argv: ['--tls-cert-file', 'c', '--tls-private-key-file', 'k'],
      expect: [/nothing to serve/],
    },
    {
      name: 'mapping without token file',
      argv: [
        '--tls-cert-file',
        'c',
        '--tls-private-key-file',
        'k',
        '--authorization-policy-file',
        'p',
        '--mapping-file',
        'm',
      ],
      expect: [/^--mapping-file: needs --token-auth-file/],
    },
    {
      name: 'bad port and duration together',
      argv: [...base, '--secure-port', '70000', '--mapping-poll-interval', '10'],
      expect: [/^--secure-port: must be an integer/, /^--mapping-poll-interval: invalid argument "10": .*missing unit/],
    },
    {
      name: 'unknown flag',
      argv: [...base, '--tokn-auth-file', 'x'],
      expect: [/^--tokn-auth-file: unknown flag$/],
      only: true,
    },
    { name: 'positional argument', argv: [...base, 'extra'], expect: [/^extra: unexpected argument/] },
  ];
  for (const c of bad) {
    it(`rejects: ${c.name}`, () => {
      let err: unknown;
      try {
        parseWebhookFlags(c.argv);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(InvalidOptionError);
      for (const re of c.expect)
        expect(
          (err as InvalidOptionError).problems.some((p) => re.test(p)),
          String(err),
        ).to.equal(true);
      if (c.only) expect((err as InvalidOptionError).problems, String(err)).to.have.length(c.expect.length);
    });
  }

  it('--help needs nothing else', () => {
    expect(parseWebhookFlags(['--help']).help).to.equal(true);
  });
});

describe('webhook/startWebhookCommand with the fixture token file, mapping and policy', () => {
  let dir: string;
  let running: RunningWebhook;
  let served: Served;
  const logger = recordingLogger();
  before(async () => {
    const pki = testPki();
    dir = mkdtempSync(join(tmpdir(), 'kda-webhook-cli-'));
    writeFileSync(join(dir, 'tls.crt'), pki.serving.certPem);
    writeFileSync(join(dir, 'tls.key'), pki.serving.keyPem);
    for (const f of ['tokens.csv', 'mapping.yaml', 'policy.yaml']) copyFileSync(join(fixtures, f), join(dir, f));
    const opts = parseWebhookFlags([
      `--tls-cert-file=${join(dir, 'tls.crt')}`,
      `--tls-private-key-file=${join(dir, 'tls.key')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      `--mapping-file=${join(dir, 'mapping.yaml')}`,
      '--mapping-poll-interval=200ms',
      `--authorization-policy-file=${join(dir, 'policy.yaml')}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
    ]);
    running = await startWebhookCommand(opts, { logger });
    const agent = new Agent({ connect: { ca: pki.servingCA.certPem } });
    served = {
      url: `https://127.0.0.1:${running.address.port}`,
      agent,
      server: undefined as never,
      close: () => agent.close(),
    };
  });
  after(async () => {
    await served.close();
    await running.close();
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: readonly { name: string; token: string; expect: Record<string, unknown> }[] = [
    {
      name: 'mapped token: template expansion of username, uid and groups',
      token: 't-alice-1',
      expect: {
        authenticated: true,
        user: { username: 'user:token:alice-1', uid: 'uid-alice-1', groups: ['devs', 'team:token:alice-1'] },
      },
    },
    {
      name: 'mapped token: literal mapping',
      token: 't-bob',
      expect: { authenticated: true, user: { username: 'bob', groups: ['viewers'] } },
    },
    {
      name: 'reserved prefix refusal: system:admin through a catch-all rule',
      token: 't-root',
      expect: { authenticated: false, error: 'identity is not mapped to a Kubernetes user' },
    },
    { name: 'unknown token', token: 'nope', expect: { authenticated: false } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const res = await post(served, tokenReview(c.token), { path: '/authenticate' });
      expect(res.status).to.equal(200);
      expect(res.json?.status).to.deep.equal(c.expect);
    });
  }

  it('authorizes from the static policy using the mapped groups (v1beta1 SAR)', async () => {
    const allow = await post(
      served,
      sar('user:token:alice-1', ['devs', 'system:authenticated'], 'list', 'configmaps'),
      { path: '/authorize' },
    );
    expect(allow.status).to.equal(200);
    expect(allow.json).to.include({ apiVersion: 'authorization.k8s.io/v1beta1' });
    expect(allow.json?.status).to.deep.include({ allowed: true });
    const deny = await post(served, sar('bob', ['viewers'], 'get', 'secrets'), { path: '/authorize' });
    expect(deny.json?.status).to.deep.equal({ allowed: false, denied: true, reason: 'bob may never read secrets' });
    const none = await post(served, sar('bob', ['viewers'], 'get', 'pods'), { path: '/authorize' });
    expect(none.json?.status).to.deep.equal({ allowed: false, reason: 'no static policy rule matches' });
  });

  it('unknown path is a 404 Status; /healthz is ok', async () => {
    expect((await post(served, {}, { path: '/nope' })).status).to.equal(404);
    expect((await post(served, undefined, { path: '/healthz', method: 'GET' })).text).to.equal('ok');
  });

  it('a broken mapping edit keeps the last good mapping and /readyz reports it; a good edit applies', async () => {
    const file = join(dir, 'mapping.yaml');
    writeFileSync(file, 'mappings:\n  - match: { subject: "token:*" }\n    username: [broken\n');
    await eventually(() => running.mapping!.status().lastError !== undefined, 'the mapping error');
    const ready = await post(served, undefined, { path: '/readyz', method: 'GET' });
    expect(ready.status).to.equal(200);
    // Names only for the caller (no file path, no error text); the details are in the log.
    expect(ready.json).to.deep.equal({ ready: true, checks: { 'identity-mapping': 'ok' } });
    expect(ready.text).not.to.include(dir);
    expect(ready.text).not.to.match(/YAML/);
    const logged = logger.lines.find((l) => /readyz/.test(l.msg));
    expect(String(logged?.fields.lastError)).to.match(/not valid YAML/);
    const still = await post(served, tokenReview('t-alice-2'), { path: '/authenticate' });
    expect(still.json?.status).to.deep.include({ authenticated: true });
    expect(logger.lines.some((l) => l.level === 'error' && /last known good/.test(l.msg))).to.equal(true);

    writeFileSync(file, 'mappings:\n  - match: { subject: "token:*" }\n    username: "new:{{subject}}"\n');
    await eventually(() => running.mapping!.status().version === 2, 'version 2');
    const now = await post(served, tokenReview('t-alice-2'), { path: '/authenticate' });
    expect(now.json?.status).to.deep.equal({ authenticated: true, user: { username: 'new:token:alice-2' } });
  });
});

/**
 * Starts the webhook command on a free loopback port with the test PKI's serving pair (`tls.crt`, `tls.key`) and the
 * fixture token file, all written into `dir`, plus `extraFlags`.
 */
function startTokenWebhook(dir: string, extraFlags: readonly string[] = []): Promise<RunningWebhook> {
  const pki = testPki();
  writeFileSync(join(dir, 'tls.crt'), pki.serving.certPem);
  writeFileSync(join(dir, 'tls.key'), pki.serving.keyPem);
  copyFileSync(join(fixtures, 'tokens.csv'), join(dir, 'tokens.csv'));
  return startWebhookCommand(
    parseWebhookFlags([
      `--tls-cert-file=${join(dir, 'tls.crt')}`,
      `--tls-private-key-file=${join(dir, 'tls.key')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      ...extraFlags,
    ]),
    { logger: recordingLogger() },
  );
}

describe('webhook/startWebhookCommand with --client-ca-file', () => {
  let dir: string;
  let running: RunningWebhook;
  before(async () => {
    const pki = testPki();
    dir = mkdtempSync(join(tmpdir(), 'kda-webhook-mtls-'));
    writeFileSync(join(dir, 'ca.crt'), pki.clientCA.certPem);
    running = await startTokenWebhook(dir, [`--client-ca-file=${join(dir, 'ca.crt')}`]);
  });
  after(async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const table = [
    { name: 'no client certificate is 401', cert: undefined, expectStatus: 401 },
    { name: 'a certificate from another CA is 401', cert: 'proxyFromOtherCA' as const, expectStatus: 401 },
    { name: 'a certificate from the client CA is served', cert: 'alice' as const, expectStatus: 200 },
  ];
  for (const c of table) {
    it(c.name, async () => {
      const pki = testPki();
      const cert = c.cert ? pki[c.cert] : undefined;
      const agent = new Agent({
        connect: { ca: pki.servingCA.certPem, ...(cert ? { cert: cert.chainPem, key: cert.keyPem } : {}) },
      });
      try {
        const res = await post(
          {
            url: `https://127.0.0.1:${running.address.port}`,
            agent,
            server: undefined as never,
            close: async () => {},
          },
          tokenReview('t-bob'),
          { path: '/authenticate' },
        );
        expect(res.status).to.equal(c.expectStatus);
        if (c.expectStatus === 401) expect(res.json).to.include({ kind: 'Status', reason: 'Unauthorized' });
      } finally {
        await agent.close();
      }
    });
  }
});

describe('webhook/startWebhookCommand reloads its serving certificate (as serve does)', () => {
  let dir: string;
  let running: RunningWebhook;
  const pki = testPki();
  // A second serving certificate of the same CA and key: a renewal.
  const renewed = createCertificate({
    commonName: 'localhost-renewed',
    keyPair: pki.sharedKey,
    issuer: pki.servingCA.issued,
    extKeyUsage: ['serverAuth'],
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
  /** The certificate a new TLS connection is served, verified against the serving CA. */
  const served = () =>
    new Promise<string>((resolve, reject) => {
      const sock = connect(
        { host: '127.0.0.1', port: running.address.port, ca: pki.servingCA.certPem, servername: 'localhost' },
        () => {
          resolve(sock.getPeerCertificate().fingerprint256);
          sock.end();
        },
      );
      sock.on('error', reject);
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kda-webhook-rotate-'));
    running = await startTokenWebhook(dir);
  });
  after(async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rotated files: the watch picks them up and new connections see the new certificate', async () => {
    expect(await served()).to.equal(fingerprint(pki.serving.certPem));
    const changed = new Promise<void>((resolve) => {
      const off = running.servingCert.addListener(() => {
        off();
        resolve();
      });
    });
    writeFileSync(join(dir, 'tls.crt'), renewed.certPem);
    await changed; // the file watch, not a re-read by the test
    expect(await served()).to.equal(fingerprint(renewed.certPem));
  });

  it('a garbage certificate file keeps the last good pair serving, and the reason is in the provider health', async () => {
    writeFileSync(join(dir, 'tls.crt'), 'not a certificate');
    await running.servingCert.runOnce(); // a re-read now, resolving: there is a last good pair
    expect(await served()).to.equal(fingerprint(renewed.certPem));
    expect(running.servingCert.health.lastError, 'health.lastError').to.be.a('string');
    // A key that does not match the certificate (a half-written rotation) is refused the same way.
    writeFileSync(join(dir, 'tls.crt'), pki.otherCA.certPem);
    await running.servingCert.runOnce();
    expect(await served()).to.equal(fingerprint(renewed.certPem));
    // Repaired: serving follows again.
    writeFileSync(join(dir, 'tls.crt'), pki.serving.certPem);
    await running.servingCert.runOnce();
    expect(await served()).to.equal(fingerprint(pki.serving.certPem));
  });
});

describe('webhook/runWebhookCommand (spawned process)', () => {
  it('logs where it listens, serves, and exits 0 on SIGTERM', async () => {
    const pki = testPki();
    const dir = mkdtempSync(join(tmpdir(), 'kda-webhook-run-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'tls.crt'), pki.serving.certPem);
    writeFileSync(join(dir, 'tls.key'), pki.serving.keyPem);
    const cli = new URL('../../cli/webhook.ts', import.meta.url).pathname;
    const argv = [
      `--tls-cert-file=${join(dir, 'tls.crt')}`,
      `--tls-private-key-file=${join(dir, 'tls.key')}`,
      `--token-auth-file=${join(fixtures, 'tokens.csv')}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
    ];
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import(${JSON.stringify(cli)}).then((m) => m.runWebhookCommand(${JSON.stringify(argv)}))`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    after(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    await eventually(() => /"msg":"webhook server listening"/.test(out), 'the listening log line');
    const listening = JSON.parse(out.split('\n').find((l) => l.includes('webhook server listening'))!) as {
      port: number;
      level: unknown;
      component: unknown;
    };
    // createPinoLogger's shape (level label, component), not a raw pino (level 30): the redacting logger (D11).
    expect([listening.level, listening.component]).to.deep.equal(['info', 'webhook']);
    const port = listening.port;
    const agent = new Agent({ connect: { ca: pki.servingCA.certPem } });
    try {
      const res = await post(
        { url: `https://127.0.0.1:${port}`, agent, server: undefined as never, close: async () => {} },
        tokenReview('t-bob'),
        { path: '/authenticate' },
      );
      expect(res.json?.status).to.deep.equal({ authenticated: true, user: { username: 'token:bob', uid: 'uid-bob' } });
    } finally {
      await agent.close();
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited, out).to.equal(0);
  });
});
