import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { Agent, request } from 'undici';
import { InvalidOptionError } from '../../lib/errors.js';
import { createCertificate, generateKeyPair, type IssuedCertificate } from '../../lib/dev-pki/certificates.js';
import { createSecureServer, type SecureServer, type SecureServerOptions } from '../../lib/server/secure-server.js';
import type { Logger } from '../../lib/log.js';
import type { CABundle, CABundleProvider, CertKeyPair, CertKeyProvider, Listener } from '../../lib/trust/interfaces.js';
import { waitFor } from '../support/wait-for.js';

/** A CABundleProvider whose content the test sets, standing in for a file or ConfigMap source. */
class SettableCABundle implements CABundleProvider {
  readonly name: string;
  #bundle: CABundle | undefined;
  #version = 0;
  readonly listeners = new Set<Listener>();
  constructor(name: string, pem?: string) {
    this.name = name;
    if (pem) this.set(pem);
  }
  set(pem: string | undefined): void {
    this.#bundle = pem ? { pem, certificates: [new X509Certificate(pem)], version: ++this.#version } : undefined;
    for (const l of this.listeners) l();
  }
  current(): CABundle | undefined {
    return this.#bundle;
  }
  addListener(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

interface Pki {
  clientCa: IssuedCertificate;
  frontProxyCa: IssuedCertificate;
  otherCa: IssuedCertificate;
  servingCa: IssuedCertificate;
  user: IssuedCertificate;
  proxy: IssuedCertificate;
  stranger: IssuedCertificate;
  serving: IssuedCertificate;
  serving2: IssuedCertificate;
}

function makePki(): Pki {
  const leafKey = generateKeyPair();
  const clientCa = createCertificate({ commonName: 'client-ca', isCA: true });
  const frontProxyCa = createCertificate({ commonName: 'front-proxy-ca', isCA: true });
  const otherCa = createCertificate({ commonName: 'other-ca', isCA: true });
  const servingCa = createCertificate({ commonName: 'serving-ca', isCA: true });
  const serving = (cn: string) =>
    createCertificate({
      commonName: cn,
      issuer: servingCa,
      keyPair: leafKey,
      extKeyUsage: ['serverAuth'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
  return {
    clientCa,
    frontProxyCa,
    otherCa,
    servingCa,
    user: createCertificate({ commonName: 'alice', organizations: ['developers'], issuer: clientCa, keyPair: leafKey }),
    proxy: createCertificate({ commonName: 'front-proxy-client', issuer: frontProxyCa, keyPair: leafKey }),
    stranger: createCertificate({ commonName: 'mallory', issuer: otherCa, keyPair: leafKey }),
    serving: serving('serving-1'),
    serving2: createCertificate({
      commonName: 'serving-2',
      issuer: servingCa,
      extKeyUsage: ['serverAuth'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    }),
  };
}

/** What OpenSSL concluded about the client certificate, as seen by the handler. */
interface Verdict {
  authorized: boolean;
  authorizationError: string | null;
  peerCN: string | null;
}

/** A logger that keeps its messages and emits `line` for each, so a spec can wait for one. */
function eventLogger(): Logger & { readonly messages: string[]; readonly logged: EventEmitter } {
  const messages: string[] = [];
  const logged = new EventEmitter();
  const at = (_fields: object, msg: string): void => {
    messages.push(msg);
    logged.emit('line');
  };
  return { messages, logged, debug: at, info: at, warn: at, error: at };
}

/** `waitFor`'s wakeOn for a logger's lines. */
const onLogLine =
  (log: { readonly logged: EventEmitter }) =>
  (wake: () => void): (() => void) => {
    log.logged.on('line', wake);
    return () => log.logged.off('line', wake);
  };

const verdictHandler: SecureServerOptions['handler'] = (req, res) => {
  const sock = req.socket as TLSSocket;
  const peer = sock.getPeerCertificate();
  const body: Verdict = {
    authorized: sock.authorized,
    authorizationError: sock.authorizationError ? String(sock.authorizationError) : null,
    peerCN: peer && peer.subject ? String(peer.subject.CN) : null,
  };
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
};

describe('createSecureServer', function () {
  this.timeout(30_000);
  let pki: Pki;
  let dir: string;
  const toClose: { close(): Promise<unknown> }[] = [];

  before(() => {
    pki = makePki();
    dir = mkdtempSync(join(tmpdir(), 'kda-secure-server-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const c of toClose.splice(0).reverse()) await c.close();
  });

  function writeServing(name: string, c: IssuedCertificate): { certFile: string; keyFile: string } {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    writeFileSync(certFile, c.certPem);
    writeFileSync(keyFile, c.keyPem);
    return { certFile, keyFile };
  }

  async function start(o: Partial<SecureServerOptions>): Promise<SecureServer> {
    const s = createSecureServer({ handler: verdictHandler, bindAddress: '127.0.0.1', securePort: 0, ...o });
    toClose.push(s);
    await s.listen();
    return s;
  }

  async function startWithFiles(o: Partial<SecureServerOptions> = {}, name = 'serving'): Promise<SecureServer> {
    const { certFile, keyFile } = writeServing(name, pki.serving);
    return start({ tlsCertFile: certFile, tlsPrivateKeyFile: keyFile, ...o });
  }

  /** One fresh connection (new Agent) per call, so the handshake sees the current context. */
  async function verdict(s: SecureServer, client?: IssuedCertificate): Promise<Verdict> {
    const agent = new Agent({
      connect: {
        ca: pki.servingCa.certPem,
        servername: 'localhost',
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
      },
    });
    try {
      const res = await request(`https://127.0.0.1:${s.port}/`, { dispatcher: agent });
      return (await res.body.json()) as Verdict;
    } finally {
      await agent.close();
    }
  }

  /** Fingerprint of the serving certificate a new TLS connection receives. */
  function servedFingerprint(port: number, ca = pki.servingCa.certPem): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
        const fp = sock.getPeerCertificate().fingerprint256;
        sock.end();
        resolve(fp);
      });
      sock.on('error', reject);
    });
  }

  /** The acceptable client-CA names the server sends in its CertificateRequest, as `openssl s_client` prints them. */
  function hintedCaNames(port: number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-tls1_2'],
        { timeout: 15_000 },
        (err, stdout) => {
          if (err && !stdout) return reject(err);
          if (/No client certificate CA names sent/.test(stdout)) return resolve([]);
          const m =
            /Acceptable client certificate CA names\n((?:.+\n)*?)(?:Requested|Client Certificate Types|---)/.exec(
              stdout,
            );
          if (!m) return reject(new Error(`no CA names section in:\n${stdout}`));
          resolve(
            m[1]!
              .trim()
              .split('\n')
              .map((l) => l.trim()),
          );
        },
      );
      child.stdin?.end();
    });
  }

  describe('acceptable-CA hint (read by openssl s_client)', () => {
    it('lists the client CA and the front-proxy CA', async () => {
      const s = await startWithFiles({
        clientCA: new SettableCABundle('client-ca', pki.clientCa.certPem),
        requestHeaderCA: new SettableCABundle('requestheader-ca', pki.frontProxyCa.certPem),
      });
      expect(await hintedCaNames(s.port)).to.deep.equal(['CN = client-ca', 'CN = front-proxy-ca']);
    });

    it('follows a CA swap without restarting the listener', async () => {
      const clientCA = new SettableCABundle('client-ca', pki.clientCa.certPem);
      const s = await startWithFiles({ clientCA });
      const port = s.port;
      expect(await hintedCaNames(port)).to.deep.equal(['CN = client-ca']);
      clientCA.set(pki.otherCa.certPem);
      expect(s.port).to.equal(port);
      expect(await hintedCaNames(port)).to.deep.equal(['CN = other-ca']);
    });

    it('sends no CA names when the union is empty', async () => {
      const s = await startWithFiles({ clientCA: new SettableCABundle('client-ca') });
      expect(await hintedCaNames(s.port)).to.deep.equal([]);
    });
  });

  describe('acceptable-CA hint (OpenSSL verdict on client certificates)', () => {
    const cases: readonly { name: string; client: (p: Pki) => IssuedCertificate | undefined; authorized: boolean }[] = [
      { name: 'client cert from the client CA is authorized', client: (p) => p.user, authorized: true },
      { name: 'client cert from the front-proxy CA is authorized', client: (p) => p.proxy, authorized: true },
      { name: 'client cert from an unrelated CA is not authorized', client: (p) => p.stranger, authorized: false },
      { name: 'no client cert is not authorized', client: () => undefined, authorized: false },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const s = await startWithFiles({
          clientCA: new SettableCABundle('client-ca', pki.clientCa.certPem),
          requestHeaderCA: new SettableCABundle('requestheader-ca', pki.frontProxyCa.certPem),
        });
        const v = await verdict(s, c.client(pki));
        expect(v.authorized).to.equal(c.authorized);
        if (!c.authorized && c.client(pki)) expect(v.authorizationError).to.be.a('string').with.length.greaterThan(0);
        if (c.client(pki)) expect(v.peerCN).to.equal(c.client(pki)!.cert.subject.getField('CN').value);
      });
    }

    it('empty union: handshake works without a ca list and nothing is authorized', async () => {
      const s = await startWithFiles({ clientCA: new SettableCABundle('client-ca') });
      const v = await verdict(s, pki.user);
      expect(v.authorized).to.equal(false);
      expect(v.peerCN).to.equal('alice', 'the client certificate is still requested and visible');
    });
  });

  describe('live trust swap', () => {
    it('a CA swap applies to new connections without restarting the listener', async () => {
      const clientCA = new SettableCABundle('client-ca', pki.clientCa.certPem);
      const s = await startWithFiles({ clientCA });
      const port = s.port;
      expect((await verdict(s, pki.user)).authorized).to.equal(true);
      expect((await verdict(s, pki.stranger)).authorized).to.equal(false);

      clientCA.set(pki.otherCa.certPem);

      expect(s.port).to.equal(port);
      expect(s.server.listening).to.equal(true);
      expect((await verdict(s, pki.stranger)).authorized).to.equal(true, 'new CA trusted');
      expect((await verdict(s, pki.user)).authorized).to.equal(false, 'old CA dropped');
      expect(await servedFingerprint(port)).to.equal(new X509Certificate(pki.serving.certPem).fingerprint256);
    });

    it('a provider that loads after listen() adds its CA', async () => {
      const requestHeaderCA = new SettableCABundle('requestheader-ca');
      const s = await startWithFiles({ requestHeaderCA });
      expect((await verdict(s, pki.proxy)).authorized).to.equal(false);
      requestHeaderCA.set(pki.frontProxyCa.certPem);
      expect((await verdict(s, pki.proxy)).authorized).to.equal(true);
    });
  });

  describe('serving certificate reload', () => {
    // The reload shows as the provider's "loaded a new serving certificate" line: each log line wakes the check of what
    // a new connection is served (the interval is only a safety net).
    const servedAfterReload = (s: SecureServer, log: ReturnType<typeof eventLogger>, fingerprint: string) =>
      waitFor(async () => (await servedFingerprint(s.port)) === fingerprint, {
        what: 'the new serving certificate on a new connection',
        intervalMs: 1000,
        wakeOn: onLogLine(log),
        detail: () => `log: ${JSON.stringify(log.messages)}`,
      });
    const fp1 = () => new X509Certificate(pki.serving.certPem).fingerprint256;
    const fp2 = () => new X509Certificate(pki.serving2.certPem).fingerprint256;

    it('serving cert file replaced in place: new connections see the new cert', async () => {
      const log = eventLogger();
      const s = await startWithFiles({ logger: log }, 'inplace');
      expect(await servedFingerprint(s.port)).to.equal(fp1());
      writeServing('inplace', pki.serving2);
      await servedAfterReload(s, log, fp2());
    });

    it('serving cert files replaced by rename (atomic rotation): new connections see the new cert', async () => {
      const log = eventLogger();
      const s = await startWithFiles({ logger: log }, 'renamed');
      writeServing('renamed-next', pki.serving2);
      renameSync(join(dir, 'renamed-next.key'), join(dir, 'renamed.key'));
      renameSync(join(dir, 'renamed-next.crt'), join(dir, 'renamed.crt'));
      await servedAfterReload(s, log, fp2());
    });

    it('a broken replacement keeps the last good certificate', async () => {
      const s = await startWithFiles({}, 'broken');
      writeFileSync(join(dir, 'broken.crt'), pki.serving2.certPem); // key no longer matches
      await s.reloadServingCertificate();
      expect(await servedFingerprint(s.port)).to.equal(fp1());
      writeFileSync(join(dir, 'broken.crt'), 'not a certificate');
      await s.reloadServingCertificate();
      expect(await servedFingerprint(s.port)).to.equal(fp1());
    });

    it('listen() fails on a missing certificate file and leaves nothing open', async () => {
      const s = createSecureServer({
        handler: verdictHandler,
        tlsCertFile: join(dir, 'missing.crt'),
        tlsPrivateKeyFile: join(dir, 'missing.key'),
        securePort: 0,
      });
      let err: unknown;
      await s.listen().catch((e: unknown) => (err = e));
      expect((err as NodeJS.ErrnoException).code).to.equal('ENOENT');
      expect(s.server.listening).to.equal(false);
    });
  });

  describe('servingCert provider', () => {
    it("serves the provider's pair and applies its swaps to new connections; the caller keeps it open", async () => {
      let pair: CertKeyPair = { cert: pki.serving.certPem, key: pki.serving.keyPem, version: 1 };
      const listeners = new Set<Listener>();
      const servingCert: CertKeyProvider = {
        name: 'test-serving',
        current: () => pair,
        addListener: (l) => (listeners.add(l), () => listeners.delete(l)),
      };
      const s = await start({ servingCert });
      expect(await servedFingerprint(s.port)).to.equal(new X509Certificate(pki.serving.certPem).fingerprint256);
      pair = { cert: pki.serving2.certPem, key: pki.serving2.keyPem, version: 2 };
      for (const l of listeners) l();
      expect(await servedFingerprint(s.port)).to.equal(new X509Certificate(pki.serving2.certPem).fingerprint256);
      await s.close();
      expect(listeners.size, 'close() unsubscribes').to.equal(0);
    });

    it('listen() refuses a provider with no pair loaded and leaves nothing open', async () => {
      const s = createSecureServer({
        handler: verdictHandler,
        servingCert: { name: 'empty', current: () => undefined, addListener: () => () => {} },
        securePort: 0,
      });
      let err: unknown;
      await s.listen().catch((e: unknown) => (err = e));
      expect(err).to.have.property('code', 'ERR_KDA_TRUST_UNAVAILABLE');
      expect(s.server.listening).to.equal(false);
    });
  });

  describe('selfSigned', () => {
    it('serves a generated certificate that verifies against selfSignedCaPem', async () => {
      const s = await start({ selfSigned: { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] } });
      expect(s.selfSignedCaPem).to.be.a('string');
      const fp = await servedFingerprint(s.port, s.selfSignedCaPem);
      expect(fp).to.match(/^[0-9A-F:]+$/);
      let err: unknown;
      await servedFingerprint(s.port, pki.servingCa.certPem).catch((e: unknown) => (err = e));
      expect(err, 'a client that does not trust the generated CA must fail').to.be.instanceOf(Error);
    });
  });

  describe('close()', () => {
    it('releases the listener, keep-alive sockets, CA listeners and file watchers; is idempotent', async () => {
      const clientCA = new SettableCABundle('client-ca', pki.clientCa.certPem);
      const log = eventLogger();
      const s = await startWithFiles({ clientCA, logger: log }, 'closing');
      // A control server watching the same files stays open: its reload is the signal that a watcher still running
      // on the closed server would have reloaded too (same directory event, same debounce, armed earlier).
      const controlLog = eventLogger();
      const control = await start({
        tlsCertFile: join(dir, 'closing.crt'),
        tlsPrivateKeyFile: join(dir, 'closing.key'),
        logger: controlLog,
      });
      expect(clientCA.listeners.size).to.equal(1);
      const agent = new Agent({ connect: { ca: pki.servingCa.certPem, servername: 'localhost' } });
      toClose.push(agent);
      const res = await request(`https://127.0.0.1:${s.port}/`, { dispatcher: agent });
      await res.body.text(); // leaves an idle keep-alive socket behind
      const port = s.port;

      await Promise.all([s.close(), s.close()]);
      await s.close();

      expect(s.server.listening).to.equal(false);
      expect(clientCA.listeners.size).to.equal(0);
      let err: unknown;
      await servedFingerprint(port).catch((e: unknown) => (err = e));
      expect((err as NodeJS.ErrnoException).code).to.equal('ECONNREFUSED');
      // A file change after close must not touch the closed server (watchers stopped).
      const loadedBeforeClose = log.messages.length;
      writeServing('closing', pki.serving2);
      await waitFor(
        async () =>
          (await servedFingerprint(control.port)) === new X509Certificate(pki.serving2.certPem).fingerprint256,
        {
          what: 'the control server to reload the changed files',
          intervalMs: 1000,
          wakeOn: onLogLine(controlLog),
        },
      );
      await new Promise((r) => setImmediate(r));
      expect(log.messages.slice(loadedBeforeClose)).to.deep.equal([]);
      let listenErr: unknown;
      await s.listen().catch((e: unknown) => (listenErr = e));
      expect(listenErr).to.have.property('code', 'ERR_KDA_CLOSED');
    });

    it('waits for an in-flight request to finish', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let handlerCalled!: () => void;
      const inHandler = new Promise<void>((r) => (handlerCalled = r));
      const { certFile, keyFile } = writeServing('inflight', pki.serving);
      const s = await start({
        tlsCertFile: certFile,
        tlsPrivateKeyFile: keyFile,
        handler: (_req, res) => {
          handlerCalled();
          void gate.then(() => res.end('done'));
        },
      });
      const agent = new Agent({ connect: { ca: pki.servingCa.certPem, servername: 'localhost' } });
      toClose.push(agent);
      const pending = request(`https://127.0.0.1:${s.port}/`, { dispatcher: agent });
      await inHandler;
      let closed = false;
      const closing = s.close().then(() => (closed = true));
      // close() stops the listener at once, then resolves only on the server's `close` event, which cannot come while
      // the request's connection is open: a close() that did not wait would have resolved by the end of this turn.
      await new Promise((r) => setImmediate(r));
      expect(s.server.listening).to.equal(false);
      expect(closed).to.equal(false);
      release();
      expect(await (await pending).body.text()).to.equal('done');
      await closing;
      expect(closed).to.equal(true);
    });
  });

  describe('option validation', () => {
    const cases: readonly { name: string; opts: Partial<SecureServerOptions>; problems: readonly RegExp[] }[] = [
      { name: 'no certificate source', opts: {}, problems: [/either "tlsCertFile"/] },
      {
        name: 'cert without key, bad port and bad address (all problems reported)',
        opts: { tlsCertFile: '/x.crt', securePort: 70000, bindAddress: 'localhost' },
        problems: [/must be set together/, /"securePort" \(--secure-port\)/, /"bindAddress" \(--bind-address\)/],
      },
      {
        name: 'files and selfSigned together',
        opts: { tlsCertFile: '/x.crt', tlsPrivateKeyFile: '/x.key', selfSigned: {} },
        problems: [/cannot be combined/],
      },
      {
        name: 'servingCert and files together',
        opts: {
          servingCert: { name: 'x', current: () => undefined, addListener: () => () => {} },
          tlsCertFile: '/x.crt',
          tlsPrivateKeyFile: '/x.key',
        },
        problems: [/"servingCert" cannot be combined/],
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        let err: unknown;
        try {
          createSecureServer({ handler: verdictHandler, ...c.opts });
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(InvalidOptionError);
        const problems = (err as InvalidOptionError).problems;
        expect(problems).to.have.length(c.problems.length);
        c.problems.forEach((re, i) => expect(problems[i]).to.match(re));
      });
    }
  });
});
