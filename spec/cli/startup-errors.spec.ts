// Every way `serve`, `webhook` and `doctor` can fail to start, run as a user runs them: the CLI as a child process.
// Each must print one line naming the flag or file, the cause and (where known) the fix, exit 1 (2 for flag-usage
// errors), and never a stack trace.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { writeDevPki } from '../../lib/dev-pki/dev-pki.js';
import { sendJson, startFakeApiserver, status, type FakeApiserver } from '../cluster/fake-apiserver.js';
import { testPki } from '../support/pki.js';
import { runToExit, type ProgramRun } from '../support/programs.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const mainTs = join(repoRoot, 'cli/main.ts');

type Run = ProgramRun;

/** Runs `kube-delegated-auth <argv>` as a child process with a clean environment (no KUBECONFIG, no NODE_DEBUG). */
function cli(argv: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', ...extraEnv };
  delete env.KUBECONFIG;
  delete env.KUBERNETES_SERVICE_HOST;
  delete env.KUBERNETES_SERVICE_PORT;
  if (!('NODE_DEBUG' in extraEnv)) delete env.NODE_DEBUG;
  // A command that starts instead of failing would run forever: the timeout stops it and reports what it printed.
  return runToExit(process.execPath, ['--import', 'tsx', mainTs, ...argv], { cwd: repoRoot, env, timeoutMs: 90_000 });
}

/** stderr without the JSON log lines (pino) that precede a failure. */
function humanLines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !/^\{".*\}$/.test(l));
}

function expectNoStack(r: Run): void {
  const all = r.stdout + r.stderr;
  expect(all, 'a stack frame').to.not.match(/^\s+at /m);
  expect(all, 'a source location').to.not.match(/\.(ts|js|mjs|cjs):/);
  expect(all, 'a JavaScript error name').to.not.match(/\b(TypeError|ReferenceError|RangeError|SyntaxError)\b/);
}

/** Asserts exit 1 and exactly one human line on stderr, `error: …`, matching every pattern. */
function expectOneErrorLine(r: Run, patterns: readonly RegExp[]): string {
  expect(r.code, r.stderr).to.equal(1);
  const lines = humanLines(r.stderr);
  expect(lines, r.stderr).to.have.length(1);
  const line = lines[0]!;
  expect(line).to.match(/^error: /);
  for (const p of patterns) expect(line).to.match(p);
  expectNoStack(r);
  return line;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A JWT-shaped service-account token (never verified by the fake; only its `sub` is read for the fix command). */
function serviceAccountToken(sub: string): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none' })}.${b64({ sub })}.c2ln`;
}

function kubeconfig(server: string, opts: { ca?: string; token?: string; certFile?: string; keyFile?: string }) {
  const user = opts.certFile
    ? `client-certificate: ${opts.certFile}\n    client-key: ${opts.keyFile}`
    : `token: ${opts.token ?? 'opaque'}`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: c',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(opts.ca ?? testPki().servingCA.certPem).toString('base64')}`,
    'users:',
    '- name: u',
    '  user:',
    `    ${user}`,
    'contexts:',
    '- name: x',
    '  context: {cluster: c, user: u}',
    'current-context: x',
    '',
  ].join('\n');
}

async function listening(port = 0): Promise<Server> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  return s;
}

describe('CLI startup errors (spawned kube-delegated-auth)', function () {
  this.timeout(120_000);
  let dir: string;
  let pki: string;
  // A fake kube-apiserver (real TLS on loopback): the only way to have the ConfigMap read answered 401/403 on demand.
  let fake: FakeApiserver;
  let busy: Server;
  let busyPort: number;
  let freePort: number;
  const f = (name: string) => join(dir, name);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kda-cli-startup-'));
    pki = f('pki');
    writeDevPki(pki);
    writeFileSync(f('garbage.pem'), 'this is not PEM\n');
    writeFileSync(f('bad-der.pem'), '-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n');
    mkdirSync(f('a-directory'));
    writeFileSync(f('tokens.csv'), 'token-1,alice,uid-1,"developers"\n');

    fake = await startFakeApiserver((req, res) => {
      if (req.headers.authorization === 'Bearer expired-token') {
        sendJson(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
        return;
      }
      sendJson(
        res,
        403,
        status(
          403,
          'Forbidden',
          'configmaps "extension-apiserver-authentication" is forbidden: User "system:serviceaccount:kda:sample" cannot list resource "configmaps" in API group "" in the namespace "kube-system"',
        ),
      );
    });
    busy = await listening();
    busyPort = (busy.address() as { port: number }).port;
    // A port nobody listens on: bound once, then released.
    const probe = await listening();
    freePort = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const pkiCa = testPki();
    writeFileSync(
      f('kc-forbidden'),
      kubeconfig(fake.url, { token: serviceAccountToken('system:serviceaccount:kda:sample') }),
    );
    writeFileSync(f('kc-unauthorized'), kubeconfig(fake.url, { token: 'expired-token' }));
    writeFileSync(f('kc-unreachable'), kubeconfig(`https://127.0.0.1:${freePort}`, {}));
    writeFileSync(f('kc-wrong-ca'), kubeconfig(fake.url, { ca: pkiCa.otherCA.certPem }));
    writeFileSync(f('kc-garbage-ca'), kubeconfig(fake.url, { ca: 'not a certificate' }));
    writeFileSync(
      f('kc-missing-cert'),
      kubeconfig(fake.url, { certFile: f('no-such-client.crt'), keyFile: join(pki, 'alice.key') }),
    );
    writeFileSync(
      f('kc-key-mismatch'),
      kubeconfig(fake.url, { certFile: join(pki, 'alice.crt'), keyFile: join(pki, 'serving-ca.key') }),
    );
    writeFileSync(f('kc-not-yaml'), 'clusters: [unclosed\n  - {');
  });
  after(async () => {
    await fake?.close();
    await new Promise<void>((r) => (busy ? busy.close(() => r()) : r()));
    rmSync(dir, { recursive: true, force: true });
  });

  // serve in standalone mode: every file comes from a flag or from --cert-dir.
  const standalone = () => ['serve', '--bind-address', '127.0.0.1', '--secure-port', '0', '--cert-dir', pki];
  const webhook = (extra: readonly string[]) => [
    'webhook',
    '--bind-address',
    '127.0.0.1',
    '--secure-port',
    '0',
    '--token-auth-file',
    f('tokens.csv'),
    ...extra,
  ];
  const webhookServing = () => [
    '--tls-cert-file',
    join(pki, 'serving.crt'),
    '--tls-private-key-file',
    join(pki, 'serving.key'),
  ];
  const cluster = (kc: string, extra: readonly string[] = []) => [
    'serve',
    '--bind-address',
    '127.0.0.1',
    '--secure-port',
    '0',
    '--kubeconfig',
    f(kc),
    ...extra,
  ];

  const cases: readonly { name: string; argv: () => readonly string[]; line: () => readonly RegExp[] }[] = [
    {
      name: 'serve: --client-ca-file is not PEM',
      argv: () => [...standalone(), '--client-ca-file', f('garbage.pem')],
      line: () => [new RegExp(`^error: --client-ca-file ${esc(f('garbage.pem'))}: not a PEM CA bundle: `)],
    },
    {
      name: 'serve: --client-ca-file does not exist',
      argv: () => [...standalone(), '--client-ca-file', f('missing.pem')],
      line: () => [
        new RegExp(`^error: --client-ca-file ${esc(f('missing.pem'))}: no such file or directory \\(ENOENT\\)$`),
      ],
    },
    {
      name: 'serve: --requestheader-client-ca-file is a directory',
      argv: () => [...standalone(), '--requestheader-client-ca-file', f('a-directory')],
      line: () => [/^error: --requestheader-client-ca-file \S+a-directory: is a directory, not a file \(EISDIR\)$/],
    },
    {
      name: 'serve: --client-ca-file cannot be read (a path through a file)',
      argv: () => [...standalone(), '--client-ca-file', join(f('garbage.pem'), 'ca.crt')],
      line: () => [
        /^error: --client-ca-file \S+garbage\.pem\/ca\.crt: a parent of the path is not a directory \(ENOTDIR\)$/,
      ],
    },
    {
      name: 'serve: --cert-dir cannot be created',
      argv: () => ['serve', '--secure-port', '0', '--cert-dir', join(f('garbage.pem'), 'certs')],
      line: () => [/^error: --cert-dir \S+garbage\.pem\/certs: .*\(ENOTDIR\)$/],
    },
    {
      name: 'serve: --tls-cert-file is not PEM',
      argv: () => [
        ...standalone(),
        '--tls-cert-file',
        f('garbage.pem'),
        '--tls-private-key-file',
        join(pki, 'serving.key'),
      ],
      line: () => [/^error: --tls-cert-file \S+garbage\.pem: no PEM certificate in the file/],
    },
    {
      name: 'serve: --tls-cert-file holds a certificate block that does not parse',
      argv: () => [
        ...standalone(),
        '--tls-cert-file',
        f('bad-der.pem'),
        '--tls-private-key-file',
        join(pki, 'serving.key'),
      ],
      line: () => [/^error: --tls-cert-file \S+bad-der\.pem: the certificate cannot be parsed: /],
    },
    {
      name: 'serve: --tls-private-key-file is not PEM',
      argv: () => [
        ...standalone(),
        '--tls-cert-file',
        join(pki, 'serving.crt'),
        '--tls-private-key-file',
        f('garbage.pem'),
      ],
      line: () => [/^error: --tls-private-key-file \S+garbage\.pem: no PEM private key in the file/],
    },
    {
      name: 'serve: the key does not match the certificate',
      argv: () => [
        ...standalone(),
        '--tls-cert-file',
        join(pki, 'serving.crt'),
        '--tls-private-key-file',
        join(pki, 'serving-ca.key'),
      ],
      line: () => [
        /^error: --tls-private-key-file \S+serving-ca\.key: the private key does not belong to the certificate in --tls-cert-file \S+serving\.crt/,
        /; fix: /,
      ],
    },
    {
      name: 'serve: a damaged dev PKI in --cert-dir names the file and the regenerate command',
      argv: () => {
        const broken = f('broken-pki');
        writeDevPki(broken);
        writeFileSync(join(broken, 'front-proxy-ca.crt'), 'garbage');
        return ['serve', '--bind-address', '127.0.0.1', '--secure-port', '0', '--cert-dir', broken];
      },
      line: () => [
        /^error: --cert-dir \S+broken-pki \(front-proxy-ca\.crt\): not a PEM CA bundle: /,
        /; fix: kube-delegated-auth certs --dir \S+broken-pki --overwrite$/,
      ],
    },
    {
      name: 'serve: --policy-file is not a policy',
      argv: () => [...standalone(), '--policy-file', f('garbage.pem')],
      line: () => [new RegExp(`^error: --policy-file ${esc(f('garbage.pem'))}: "rules" must be a list`)],
    },
    {
      name: 'serve: --secure-port is in use',
      argv: () => ['serve', '--bind-address', '127.0.0.1', '--secure-port', String(busyPort), '--cert-dir', pki],
      line: () => [
        new RegExp(
          `^error: --bind-address 127\\.0\\.0\\.1 --secure-port ${busyPort}: 127\\.0\\.0\\.1:${busyPort} is already in use`,
        ),
        /; fix: .*--secure-port/,
      ],
    },
    {
      name: 'serve: --bind-address is not an address of this host',
      argv: () => ['serve', '--bind-address', '192.0.2.1', '--secure-port', '0', '--cert-dir', pki],
      line: () => [
        /^error: --bind-address 192\.0\.2\.1 --secure-port 0: 192\.0\.2\.1 is not an address of this host/,
        /; fix: --bind-address/,
      ],
    },
    {
      name: 'serve: --kubeconfig does not exist',
      argv: () => cluster('no-such-kubeconfig'),
      line: () => [
        /^error: --kubeconfig \S+no-such-kubeconfig: invalid kubeconfig: no such file or directory \(ENOENT\)$/,
      ],
    },
    {
      name: 'serve: --kubeconfig is not a kubeconfig',
      argv: () => cluster('garbage.pem'),
      line: () => [/^error: --kubeconfig \S+garbage\.pem: invalid kubeconfig: no current context/],
    },
    {
      name: 'serve: --kubeconfig is not YAML',
      argv: () => cluster('kc-not-yaml'),
      line: () => [/^error: --kubeconfig \S+kc-not-yaml: invalid kubeconfig: \S/],
    },
    {
      name: 'serve: --kubeconfig certificate-authority-data is not PEM',
      argv: () => cluster('kc-garbage-ca'),
      line: () => [/^error: --kubeconfig \S+kc-garbage-ca: the cluster certificate-authority is not a PEM CA bundle/],
    },
    {
      name: 'serve: --kubeconfig names a client certificate that does not exist',
      argv: () => cluster('kc-missing-cert'),
      line: () => [
        new RegExp(
          `^error: --kubeconfig \\S+kc-missing-cert: invalid kubeconfig: ${esc(f('no-such-client.crt'))}: no such file`,
        ),
      ],
    },
    {
      name: 'serve: --kubeconfig client key does not match its certificate',
      argv: () => cluster('kc-key-mismatch'),
      line: () => [
        /^error: --kubeconfig \S+kc-key-mismatch: the user client-key does not match its client-certificate/,
      ],
    },
    {
      name: 'serve: the ConfigMap read is Forbidden (fake kube-apiserver): the rolebinding fix',
      argv: () => cluster('kc-forbidden'),
      line: () => [
        /^error: ConfigMap kube-system\/extension-apiserver-authentication via --kubeconfig \S+kc-forbidden: forbidden \(403\): /,
        /cannot list resource "configmaps"/,
        /; fix: kubectl create rolebinding -n kube-system \S+ --role=extension-apiserver-authentication-reader --serviceaccount=kda:sample$/,
      ],
    },
    {
      name: 'serve: kube-apiserver answers 401 (fake kube-apiserver)',
      argv: () => cluster('kc-unauthorized'),
      line: () => [
        /^error: ConfigMap kube-system\/extension-apiserver-authentication via --kubeconfig \S+kc-unauthorized: kube-apiserver rejected the credentials \(401 Unauthorized\)/,
        /; fix: .*kubectl --kubeconfig \S+kc-unauthorized auth whoami/,
      ],
    },
    {
      name: 'serve: kube-apiserver is unreachable (a port nobody listens on)',
      argv: () => cluster('kc-unreachable'),
      line: () => [
        /^error: ConfigMap kube-system\/extension-apiserver-authentication via --kubeconfig \S+kc-unreachable: cannot reach kube-apiserver \(connection refused\)/,
        /; fix: .*kubectl --kubeconfig \S+kc-unreachable cluster-info/,
      ],
    },
    {
      name: "serve: kube-apiserver's certificate is not signed by the kubeconfig CA",
      argv: () => cluster('kc-wrong-ca'),
      line: () => [
        /^error: ConfigMap kube-system\/extension-apiserver-authentication via --kubeconfig \S+kc-wrong-ca: TLS: kube-apiserver's certificate is not trusted/,
        /; fix: set the kubeconfig cluster's certificate-authority-data/,
      ],
    },
    {
      name: 'serve (cluster): --tls-cert-file does not exist',
      argv: () =>
        cluster('kc-forbidden', [
          '--tls-cert-file',
          f('missing.crt'),
          '--tls-private-key-file',
          join(pki, 'serving.key'),
        ]),
      line: () => [/^error: --tls-cert-file \S+missing\.crt: no such file or directory \(ENOENT\)$/],
    },
    {
      name: 'serve (cluster): --requestheader-client-ca-file is not PEM',
      argv: () => cluster('kc-forbidden', ['--requestheader-client-ca-file', f('garbage.pem')]),
      line: () => [/^error: --requestheader-client-ca-file \S+garbage\.pem: not a PEM CA bundle/],
    },
    {
      name: 'webhook: --tls-cert-file does not exist',
      argv: () => webhook(['--tls-cert-file', f('missing.crt'), '--tls-private-key-file', join(pki, 'serving.key')]),
      line: () => [/^error: --tls-cert-file \S+missing\.crt: no such file or directory \(ENOENT\)$/],
    },
    {
      name: 'webhook: --tls-cert-file is not PEM',
      argv: () => webhook(['--tls-cert-file', f('garbage.pem'), '--tls-private-key-file', join(pki, 'serving.key')]),
      line: () => [/^error: --tls-cert-file \S+garbage\.pem: no PEM certificate in the file/],
    },
    {
      name: 'webhook: the key does not match the certificate',
      argv: () =>
        webhook(['--tls-cert-file', join(pki, 'serving.crt'), '--tls-private-key-file', join(pki, 'alice.key')]),
      line: () => [/^error: --tls-private-key-file \S+alice\.key: the private key does not belong to the certificate/],
    },
    {
      name: 'webhook: --client-ca-file is not PEM',
      argv: () => webhook([...webhookServing(), '--client-ca-file', f('garbage.pem')]),
      line: () => [/^error: --client-ca-file \S+garbage\.pem: not a PEM CA bundle/],
    },
    {
      name: 'webhook: --token-auth-file is not a token file',
      argv: () => [
        'webhook',
        '--bind-address',
        '127.0.0.1',
        '--secure-port',
        '0',
        ...webhookServing(),
        '--token-auth-file',
        f('garbage.pem'),
      ],
      line: () => [/^error: --token-auth-file \S+garbage\.pem: .*must have at least 3 columns/],
    },
    {
      name: 'webhook: --mapping-file is not a mapping',
      argv: () => webhook([...webhookServing(), '--mapping-file', f('garbage.pem')]),
      line: () => [/^error: --mapping-file \S+garbage\.pem: mapping document must be an object/],
    },
    {
      name: 'webhook: --authorization-policy-file does not exist',
      argv: () => webhook([...webhookServing(), '--authorization-policy-file', f('missing.yaml')]),
      line: () => [/^error: --authorization-policy-file \S+missing\.yaml: no such file or directory \(ENOENT\)$/],
    },
    {
      name: 'webhook: --secure-port is in use',
      // The last --secure-port wins, as with Go's pflag.
      argv: () => [...webhook(webhookServing()), '--secure-port', String(busyPort)],
      line: () => [
        new RegExp(
          `^error: --bind-address 127\\.0\\.0\\.1 --secure-port ${busyPort}: 127\\.0\\.0\\.1:${busyPort} is already in use`,
        ),
      ],
    },
  ];

  for (const c of cases) {
    it(`${c.name}: one line naming it, exit 1, no stack`, async () => {
      const r = await cli(c.argv());
      expectOneErrorLine(r, c.line());
    });
  }

  it('serve and webhook flag-usage errors keep exit 2 and name the flag', async () => {
    const serve = await cli(['serve', '--secure-port', 'x']);
    expect(serve.code).to.equal(2);
    expect(serve.stderr).to.equal(
      'error: --secure-port: invalid argument "x": strconv.ParseInt: parsing "x": invalid syntax; fix: --secure-port=8443\n',
    );
    expectNoStack(serve);
    const hook = await cli(webhook([...webhookServing(), '--bind-address', 'not-an-ip']));
    expect(hook.code).to.equal(2);
    expect(hook.stderr).to.equal(
      'error: --bind-address: must be an IP address, got "not-an-ip"; fix: --bind-address=0.0.0.0\n',
    );
    expectNoStack(hook);
  });

  it('NODE_DEBUG=kube-delegated-auth adds the stack after the one line', async () => {
    const r = await cli([...standalone(), '--client-ca-file', f('missing.pem')], {
      NODE_DEBUG: 'kube-delegated-auth',
    });
    expect(r.code).to.equal(1);
    const lines = humanLines(r.stderr);
    expect(lines[0]).to.match(/^error: --client-ca-file \S+missing\.pem: no such file or directory/);
    expect(r.stderr).to.match(/^\s+at /m);
  });

  describe('doctor (a report: one FAIL line per check, exit 1)', () => {
    it('--kubeconfig does not exist: the FAIL line names the flag, the file and the cause', async () => {
      const r = await cli(['doctor', '--kubeconfig', f('no-such-kubeconfig')]);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(
        new RegExp(
          `^FAIL {2}connection: --kubeconfig ${esc(f('no-such-kubeconfig'))}: .*no such file or directory`,
          'm',
        ),
      );
      expect(r.stdout).to.match(/^ {6}fix: /m);
      expectNoStack(r);
    });

    it('kube-apiserver unreachable: the fix names the kubeconfig', async () => {
      const r = await cli(['doctor', '--kubeconfig', f('kc-unreachable')]);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(
        new RegExp(`^FAIL {2}connection: cannot reach kube-apiserver at https://127\\.0\\.0\\.1:${freePort}: `, 'm'),
      );
      expect(r.stdout).to.include(`fix: kubectl --kubeconfig ${f('kc-unreachable')} get --raw /readyz`);
      expectNoStack(r);
    });

    it('Forbidden (fake kube-apiserver): the rolebinding fix for the ConfigMap', async () => {
      const r = await cli(['doctor', '--kubeconfig', f('kc-forbidden')]);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/^FAIL {2}rbac\.configmap: .*403/m);
      expect(r.stdout).to.match(
        /^ {6}fix: kubectl create rolebinding -n kube-system \S+ --role=extension-apiserver-authentication-reader --serviceaccount=kda:sample$/m,
      );
      expectNoStack(r);
    });

    it('401 (fake kube-apiserver): refused credentials, with the whoami command', async () => {
      const r = await cli(['doctor', '--kubeconfig', f('kc-unauthorized')]);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/^FAIL {2}connection: kube-apiserver at \S+ refused the credentials \(401\)/m);
      expect(r.stdout).to.include(`fix: kubectl --kubeconfig ${f('kc-unauthorized')} auth whoami`);
      expectNoStack(r);
    });
  });
});
