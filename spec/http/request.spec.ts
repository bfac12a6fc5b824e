import { expect } from 'chai';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Client, request, type Dispatcher } from 'undici';
import { createCertificate, generateKeyPair } from '../../lib/dev-pki/certificates.js';
import { rememberedIntermediatesSize, stripIdentityHeaders, toAuthnRequest } from '../../lib/http/request.js';
import { staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';
import { testPki } from '../support/pki.js';

interface Echo {
  user: string[];
  group: string[];
  utf8: string[];
  names: string[];
  chain: string[];
  sameChainObject: boolean;
  resumed: boolean;
  port: number;
  hasConnection: boolean;
  after: { headers: Record<string, unknown>; distinct: Record<string, string[]>; raw: string[] };
  removed: string[];
}

describe('lib/http/request', () => {
  const pki = testPki();
  let server: TestTlsServer;
  const seenChains = new WeakMap<object, unknown>();
  const config = staticRequestHeaderConfig({
    usernameHeaders: ['X-Remote-User', 'X-Acme-User'],
    uidHeaders: ['X-Acme-Uid'],
    groupHeaders: ['X-Acme-Group'],
    extraHeaderPrefixes: ['X-Acme-Extra-'],
  });

  function handler(req: IncomingMessage, res: ServerResponse): void {
    const view = toAuthnRequest(req);
    const chain = view.peerCertificates;
    const prev = seenChains.get(req.socket);
    seenChains.set(req.socket, chain);
    const url = new URL(req.url!, 'https://x');
    const consumed = url.searchParams.getAll('consumed');
    const echo: Partial<Echo> = {
      user: [...view.header('x-remote-user')],
      group: [...view.header('X-REMOTE-GROUP')],
      utf8: [...view.header('x-utf8')],
      names: [...view.headerNames()],
      chain: chain.map((c) => c.subject),
      sameChainObject: prev === chain,
      hasConnection: view.connection === req.socket,
      resumed: (req.socket as TLSSocket).isSessionReused(),
      port: req.socket.remotePort!,
    };
    echo.removed = stripIdentityHeaders(req, config.current(), consumed).sort();
    echo.after = {
      headers: { ...req.headers },
      distinct: { ...req.headersDistinct } as Record<string, string[]>,
      raw: [...req.rawHeaders],
    };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(echo));
  }

  before(async () => {
    server = await startTlsServer(handler);
  });
  after(() => server.close());

  async function get(
    agent: Dispatcher,
    headers: Record<string, string | string[]>,
    path = '/',
    reset = false,
  ): Promise<Echo> {
    const r = await request(server.url + path, { dispatcher: agent, headers, reset });
    expect(r.statusCode).to.equal(200);
    return (await r.body.json()) as Echo;
  }

  it('header lines arrive one per entry, in order, never comma-joined; empty lines kept', async () => {
    const agent = clientAgent();
    after(() => agent.close());
    const e = await get(agent, { 'x-remote-user': ['', 'bob'], 'x-remote-group': ['devs, ops', 'system:masters'] });
    expect(e.user).to.deep.equal(['', 'bob']);
    expect(e.group).to.deep.equal(['devs, ops', 'system:masters']);
    expect(e.chain).to.deep.equal([]);
    expect(e.hasConnection).to.equal(true);
  });

  it('non-ASCII header bytes are decoded as UTF-8, like Go keeps the bytes', async () => {
    const agent = clientAgent();
    after(() => agent.close());
    // undici writes string header values as latin1; send the UTF-8 bytes of "Jürgen 今日".
    const e = await get(agent, { 'x-utf8': Buffer.from('Jürgen 今日', 'utf8').toString('latin1') });
    expect(e.utf8).to.deep.equal(['Jürgen 今日']);
  });

  it('peer chain: leaf then the intermediates the client sent, read once per socket and reused on keep-alive', async () => {
    const client = new Client(server.url, {
      connect: {
        ca: pki.servingCA.certPem,
        cert: pki.proxyViaIntermediate.chainPem,
        key: pki.proxyViaIntermediate.keyPem,
      },
    });
    after(() => client.close());
    const first = await get(client, {});
    const second = await get(client, {});
    expect(second.port, 'same keep-alive connection').to.equal(first.port);
    expect(first.chain).to.deep.equal(['CN=front-proxy-client', 'CN=test-front-proxy-intermediate']);
    expect(second.chain).to.deep.equal(first.chain);
    expect(first.sameChainObject).to.equal(false);
    expect(second.sameChainObject).to.equal(true);
  });

  it('a resumed TLS session (server sees only the leaf) still gets the intermediates of the full handshake', async () => {
    const agent = clientAgent(pki.proxyViaIntermediate);
    after(() => agent.close());
    const first = await get(agent, {}, '/', true); // reset: close the connection after this request
    const second = await get(agent, {});
    expect(second.port).to.not.equal(first.port);
    expect(first.resumed).to.equal(false);
    expect(second.resumed, 'undici resumes the TLS session').to.equal(true);
    expect(second.chain).to.deep.equal(['CN=front-proxy-client', 'CN=test-front-proxy-intermediate']);
  });

  it('the intermediates remembered for resumed sessions stay within 4 MiB, whatever chains clients present', async function () {
    this.timeout(60_000);
    // Any client may present any chain before it is verified. A 60 KB intermediate (2400 SANs) under 90 distinct
    // leaves would pin ~5.4 MB if only the 1024-leaf bound held; the byte budget keeps the newest that fit.
    const ca = createCertificate({ commonName: 'bloat-ca', isCA: true });
    const bloated = createCertificate({
      commonName: 'bloated-intermediate',
      isCA: true,
      issuer: ca,
      dnsNames: Array.from({ length: 2400 }, (_, i) => `name-${String(i).padStart(4, '0')}.bloated.example.com`),
    });
    const bloatedBytes = bloated.certPem.length * 0.7; // PEM is base64 (4/3) plus line breaks: DER is ~70 %
    expect(bloatedBytes).to.be.above(50_000);
    const keyPair = generateKeyPair();
    let last: Echo | undefined;
    for (let i = 0; i < 90; i++) {
      const leaf = createCertificate({ commonName: `bloat-${i}`, issuer: bloated, keyPair });
      const client = new Client(server.url, {
        connect: { ca: pki.servingCA.certPem, cert: leaf.certPem + bloated.certPem, key: keyPair.privateKeyPem },
      });
      last = await get(client, {});
      await client.close();
      expect(rememberedIntermediatesSize().derBytes, `after ${i + 1} chains`).to.be.at.most(4 * 1024 * 1024);
    }
    expect(last?.chain).to.deep.equal(['CN=bloat-89', 'CN=bloated-intermediate']);
    const size = rememberedIntermediatesSize();
    expect(size.leaves).to.be.below(90);
    expect(size.derBytes).to.be.above(4 * 1024 * 1024 - 2 * bloatedBytes);
  });

  it('stripIdentityHeaders removes standard, configured and consumed headers from headers, headersDistinct and rawHeaders', async () => {
    const agent = clientAgent();
    after(() => agent.close());
    const e = await get(
      agent,
      {
        authorization: 'Bearer secret',
        'x-remote-user': 'mallory',
        'x-remote-uid': 'u',
        'x-remote-group': ['system:masters', 'x'],
        'x-remote-extra-scopes': 'all',
        'x-remote-extra-foo%2fbar': 'b',
        'X-Acme-User': 'mallory',
        'x-acme-uid': 'u2',
        'x-acme-group': 'g',
        'x-acme-extra-team': 't',
        'x-consumed-by-authenticator': 'c',
        'x-keep-me': 'kept',
      },
      '/?consumed=X-Consumed-By-Authenticator',
    );
    const identity = [
      'authorization',
      'x-remote-user',
      'x-remote-uid',
      'x-remote-group',
      'x-remote-extra-scopes',
      'x-remote-extra-foo%2fbar',
      'x-acme-user',
      'x-acme-uid',
      'x-acme-group',
      'x-acme-extra-team',
      'x-consumed-by-authenticator',
    ];
    expect(e.removed).to.deep.equal([...identity].sort());
    for (const name of identity) {
      expect(e.after.headers).to.not.have.property(name);
      expect(e.after.distinct).to.not.have.property(name);
    }
    const rawNames = e.after.raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(rawNames.filter((n) => identity.includes(n))).to.deep.equal([]);
    expect(e.after.headers['x-keep-me']).to.equal('kept');
    expect(rawNames).to.include('x-keep-me');
  });

  it('a consumed Sec-WebSocket-Protocol loses only the token entry', async () => {
    const agent = clientAgent();
    after(() => agent.close());
    const token = `base64url.bearer.authorization.k8s.io.${Buffer.from('t').toString('base64url')}`;
    const e = await get(
      agent,
      { 'sec-websocket-protocol': [`${token}, v4.channel.k8s.io`, 'v5.channel.k8s.io'] },
      '/?consumed=Sec-WebSocket-Protocol',
    );
    expect(e.after.headers['sec-websocket-protocol']).to.equal('v4.channel.k8s.io,v5.channel.k8s.io');
    expect(e.after.distinct['sec-websocket-protocol']).to.deep.equal(['v4.channel.k8s.io,v5.channel.k8s.io']);
    expect(e.after.raw.join('\n')).to.not.include('base64url.bearer');
  });

  it('underscore look-alikes of every standard and configured identity header and prefix are removed too', async () => {
    const agent = clientAgent();
    after(() => agent.close());
    const e = await get(agent, {
      X_Remote_User: 'mallory',
      'x-remote_group': 'system:masters',
      X_REMOTE_UID: 'u',
      'X_Remote_Extra-Scopes': 'all',
      x_acme_user: 'mallory',
      'X-Acme_Group': 'g',
      x_acme_extra_team: 't',
      Impersonate_User: 'mallory',
      'impersonate_extra-x': 'y',
      x_keep_me: 'kept',
      'x-remoteuser': 'not an identity header',
    });
    const lookAlikes = [
      'x_remote_user',
      'x-remote_group',
      'x_remote_uid',
      'x_remote_extra-scopes',
      'x_acme_user',
      'x-acme_group',
      'x_acme_extra_team',
      'impersonate_user',
      'impersonate_extra-x',
    ];
    expect(e.removed).to.deep.equal([...lookAlikes].sort());
    const rawNames = e.after.raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(rawNames.filter((n) => lookAlikes.includes(n))).to.deep.equal([]);
    for (const name of lookAlikes) expect(e.after.distinct).to.not.have.property(name);
    expect(e.after.headers['x_keep_me']).to.equal('kept');
    expect(e.after.headers['x-remoteuser']).to.equal('not an identity header');
  });

  it('after thousands of distinct long header names (the verdict memo pushed past its bounds), stripping is still exact', async function () {
    this.timeout(60_000);
    const agent = clientAgent();
    after(() => agent.close());
    // 4200 names > the memo's 4096 entries, 2 KB each > its 256 K characters: every bound is crossed many times.
    // (Six 2 KB names per request: Node's default header limit is 16 KB.)
    for (let i = 0; i < 700; i++) {
      const headers: Record<string, string> = { 'x-remote-user': 'mallory', 'X_Acme_Extra-Team': 't' };
      for (let j = 0; j < 6; j++) headers[`x-${String(i * 6 + j).padStart(1998, 'n')}`] = 'kept';
      if (i === 699) headers['x-remote-group'] = 'system:masters';
      const e = await get(agent, headers);
      expect(e.removed).to.deep.equal(
        i === 699 ? ['x-remote-group', 'x-remote-user', 'x_acme_extra-team'] : ['x-remote-user', 'x_acme_extra-team'],
      );
      expect(Object.keys(e.after.headers).filter((n) => n.length > 1990)).to.have.length(6);
    }
  });

  it('an unconsumed bearer subprotocol is removed too (any case); a header left empty goes; others are untouched', async () => {
    const agent = clientAgent();
    after(() => agent.close());
    const token = `base64url.bearer.authorization.k8s.io.${Buffer.from('t').toString('base64url')}`;
    const e = await get(agent, {
      'sec-websocket-protocol': token.toUpperCase(),
      sec_websocket_protocol: `${token},v4.channel.k8s.io`,
      'x-other': token,
    });
    expect(e.after.headers).to.not.have.property('sec-websocket-protocol');
    expect(e.after.distinct).to.not.have.property('sec-websocket-protocol');
    expect(e.after.headers['sec_websocket_protocol']).to.equal('v4.channel.k8s.io');
    expect(e.after.raw.filter((v) => /bearer\.authorization/i.test(v))).to.deep.equal([token]);
    const plain = await get(agent, { 'sec-websocket-protocol': ' v4.channel.k8s.io ,  v5.channel.k8s.io' });
    expect(plain.after.raw).to.include('v4.channel.k8s.io ,  v5.channel.k8s.io');
  });

  it('plain HTTP: no certificates, no connection key', async () => {
    const { createServer } = await import('node:http');
    const plain = createServer((req, res) => {
      const view = toAuthnRequest(req);
      res.end(JSON.stringify({ certs: view.peerCertificates.length, connection: view.connection === undefined }));
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    after(() => new Promise<void>((resolve) => plain.close(() => resolve())));
    const { port } = plain.address() as AddressInfo;
    const r = await request(`http://127.0.0.1:${port}/`, { reset: true });
    expect(await r.body.json()).to.deep.equal({ certs: 0, connection: true });
  });

  it('a request object without headersDistinct (HTTP/2 compat) is read and stripped through rawHeaders', () => {
    const req = {
      method: 'GET',
      url: '/',
      headers: { 'x-remote-user': 'a, b', 'x-keep': 'k' },
      rawHeaders: ['X-Remote-User', 'a', 'x-remote-user', 'b', 'X-Keep', 'k'],
      socket: undefined,
    } as unknown as IncomingMessage;
    const view = toAuthnRequest(req);
    expect(view.header('x-remote-user')).to.deep.equal(['a', 'b']);
    expect(stripIdentityHeaders(req, undefined)).to.deep.equal(['x-remote-user']);
    expect(req.rawHeaders).to.deep.equal(['X-Keep', 'k']);
    expect(view.header('x-remote-user')).to.deep.equal([]);
    expect(req.headers).to.deep.equal({ 'x-keep': 'k' });
  });
});
