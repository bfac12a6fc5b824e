import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadConnectionConfig } from '../../lib/cluster/kubeconfig.js';
import { proxyFor, proxyFromEnvironment } from '../../lib/cluster/proxy.js';
import { RestClient } from '../../lib/cluster/rest-client.js';
import { KdaError } from '../../lib/errors.js';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy.js';
import { sendJson, startFakeApiserver, type FakeApiserver } from './fake-apiserver.js';

describe('cluster/proxy: kubeconfig proxy-url and HTTPS_PROXY/NO_PROXY as client-go', () => {
  let fake: FakeApiserver;
  let proxy: ConnectProxy;
  const clients: RestClient[] = [];
  before(async () => {
    fake = await startFakeApiserver((_q, res) => sendJson(res, 200, { kind: 'Status', status: 'Success' }));
    proxy = await startConnectProxy();
  });
  after(async () => {
    await fake.close();
    await proxy.close();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.destroy()));
    proxy.tunnels.length = 0;
  });
  const client = (opts: ConstructorParameters<typeof RestClient>[0]): RestClient => {
    const c = new RestClient(opts);
    clients.push(c);
    return c;
  };
  const port = (): string => new URL(fake.url).port;
  // 0.0.0.0 reaches this machine's loopback listener but is not a loopback address to Go, so Go's
  // ProxyFromEnvironment proxies it (it never proxies localhost or 127.0.0.0/8, see the case below).
  const viaAnyAddress = () => fake.connection({ server: `https://0.0.0.0:${port()}`, tlsServerName: 'localhost' });

  describe('over the wire (a real CONNECT proxy on loopback, spec/support/connect-proxy.ts)', () => {
    it('kubeconfig proxy-url: every request goes through the proxy, the tunnel is kept alive', async () => {
      const c = client({ connection: fake.connection({ proxyUrl: proxy.url }), env: {} });
      for (let i = 0; i < 10; i++) expect(await c.get('/api')).to.deep.include({ status: 'Success' });
      // As for direct connections (rest-client spec): undici may open a second one while the first settles.
      expect(proxy.tunnels.length).to.be.within(1, 2);
      for (const t of proxy.tunnels) expect(t.target).to.equal(`127.0.0.1:${port()}`);
    });

    it('proxy-url wins over HTTPS_PROXY and NO_PROXY (client-go uses http.ProxyURL then)', async () => {
      const c = client({
        connection: fake.connection({ proxyUrl: proxy.url }),
        env: { HTTPS_PROXY: 'http://127.0.0.1:1', NO_PROXY: '*' },
      });
      await c.get('/api');
      expect(proxy.tunnels).to.have.length(1);
    });

    it('proxy-url credentials are sent as Proxy-Authorization: Basic', async () => {
      const withAuth = proxy.url.replace('http://', 'http://alice:s%3Acret@');
      const c = client({ connection: fake.connection({ proxyUrl: withAuth }), env: {} });
      await c.get('/api');
      expect(proxy.tunnels.map((t) => t.proxyAuthorization)).to.deep.equal([
        `Basic ${Buffer.from('alice:s:cret').toString('base64')}`,
      ]);
    });

    it('the apiserver certificate is still verified through the tunnel', async () => {
      // No CA of the test PKI: the system roots cannot verify the fake apiserver's certificate.
      const { ca: _ca, ...withoutCa } = fake.connection({ proxyUrl: proxy.url });
      const c = client({ connection: withoutCa, env: {} });
      const err = await c.get('/api').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(KdaError);
      expect((err as KdaError).code).to.equal('ERR_KDA_KUBE_API');
      expect(proxy.tunnels).to.have.length(1);
    });

    it('HTTPS_PROXY without proxy-url: the request is tunnelled', async () => {
      const c = client({ connection: viaAnyAddress(), env: { HTTPS_PROXY: proxy.url } });
      await c.get('/api');
      expect(proxy.tunnels.map((t) => t.target)).to.deep.equal([`0.0.0.0:${port()}`]);
    });

    it('lower-case https_proxy works too; upper case wins when both are set', async () => {
      await client({ connection: viaAnyAddress(), env: { https_proxy: proxy.url } }).get('/api');
      expect(proxy.tunnels).to.have.length(1);
      const err = await client({
        connection: viaAnyAddress(),
        env: { HTTPS_PROXY: 'http://127.0.0.1:1', https_proxy: proxy.url },
      })
        .get('/api')
        .catch((e: unknown) => e);
      expect((err as KdaError).code).to.equal('ERR_KDA_KUBE_API');
      expect(proxy.tunnels).to.have.length(1);
    });

    for (const noProxy of ['0.0.0.0', '0.0.0.0/8', `0.0.0.0:${'PORT'}`, 'example.com, 0.0.0.0', '*']) {
      it(`NO_PROXY=${noProxy}: the request goes direct`, async () => {
        const c = client({
          connection: viaAnyAddress(),
          env: { HTTPS_PROXY: proxy.url, NO_PROXY: noProxy.replace('PORT', port()) },
        });
        expect(await c.get('/api')).to.deep.include({ status: 'Success' });
        expect(proxy.tunnels).to.deep.equal([]);
      });
    }

    it('NO_PROXY for another port or host does not bypass the proxy', async () => {
      const c = client({
        connection: viaAnyAddress(),
        env: { HTTPS_PROXY: proxy.url, NO_PROXY: '0.0.0.0:1,10.0.0.0/8,example.com' },
      });
      await c.get('/api');
      expect(proxy.tunnels).to.have.length(1);
    });

    it('HTTP_PROXY alone is not used for an https apiserver (Go reads HTTPS_PROXY for https)', async () => {
      const c = client({ connection: viaAnyAddress(), env: { HTTP_PROXY: proxy.url } });
      await c.get('/api');
      expect(proxy.tunnels).to.deep.equal([]);
    });

    it('localhost and loopback IPs are never proxied from the environment (Go), only by proxy-url', async () => {
      await client({ connection: fake.connection(), env: { HTTPS_PROXY: proxy.url } }).get('/api');
      const localhost = fake.connection({ server: `https://localhost:${port()}` });
      await client({ connection: localhost, env: { HTTPS_PROXY: proxy.url } }).get('/api');
      expect(proxy.tunnels).to.deep.equal([]);
    });

    it('a kubeconfig file with proxy-url, read by loadConnectionConfig, reaches the apiserver through the proxy', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kda-proxy-'));
      try {
        const conn = fake.connection();
        const path = join(dir, 'kubeconfig');
        writeFileSync(
          path,
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'Config',
            clusters: [
              {
                name: 'c',
                cluster: {
                  server: conn.server,
                  'certificate-authority-data': Buffer.from(conn.ca!).toString('base64'),
                  'proxy-url': proxy.url,
                },
              },
            ],
            users: [{ name: 'u', user: { token: 'abc' } }],
            contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
            'current-context': 'x',
          }),
        );
        const loaded = loadConnectionConfig({ kubeconfig: path });
        expect(loaded.proxyUrl).to.equal(proxy.url);
        await client({ connection: loaded, env: {} }).get('/api');
        expect(proxy.tunnels).to.have.length(1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('refusals', () => {
    for (const [name, proxyUrl, message] of [
      [
        'socks5',
        'socks5://127.0.0.1:1080',
        /kubeconfig proxy-url: SOCKS5 proxies are not supported.*HTTP CONNECT proxy/,
      ],
      ['socks5h', 'socks5h://127.0.0.1:1080', /SOCKS5 proxies are not supported/],
      ['ftp', 'ftp://127.0.0.1:21', /proxy URL scheme "ftp" not supported/],
    ] as const) {
      it(`proxy-url ${name}: a clear ERR_KDA_INVALID_OPTION when the client is built, before any I/O`, () => {
        expect(() => new RestClient({ connection: fake.connection({ proxyUrl }), env: {} }))
          .to.throw(KdaError, message)
          .with.property('code', 'ERR_KDA_INVALID_OPTION');
      });
    }

    it('HTTPS_PROXY=socks5://…: the error names the variable', () => {
      expect(
        () => new RestClient({ connection: viaAnyAddress(), env: { HTTPS_PROXY: 'socks5://127.0.0.1:1' } }),
      ).to.throw(KdaError, /^HTTPS_PROXY: SOCKS5 proxies are not supported/);
    });

    it('a kubeconfig with a socks5 proxy-url fails to load, naming the file and cluster', () => {
      const dir = mkdtempSync(join(tmpdir(), 'kda-proxy-'));
      try {
        const path = join(dir, 'kubeconfig');
        writeFileSync(
          path,
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'Config',
            clusters: [{ name: 'prod', cluster: { server: 'https://10.0.0.1', 'proxy-url': 'socks5://p:1080' } }],
            users: [{ name: 'u', user: { token: 'abc' } }],
            contexts: [{ name: 'x', context: { cluster: 'prod', user: 'u' } }],
            'current-context': 'x',
          }),
        );
        expect(() => loadConnectionConfig({ kubeconfig: path })).to.throw(
          KdaError,
          new RegExp(`kubeconfig:${path}: cluster "prod": kubeconfig proxy-url: SOCKS5 proxies are not supported`),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a password in a refused proxy-url is not repeated in the message', () => {
      expect(() => proxyFor('https://x', 'http://u:hunter2@[bad', {}))
        .to.throw(KdaError)
        .that.satisfies((e: Error) => !e.message.includes('hunter2'));
    });
  });

  describe('proxyFromEnvironment (Go http.ProxyFromEnvironment rules)', () => {
    const cases: readonly { target: string; env: NodeJS.ProcessEnv; proxy: string | undefined }[] = [
      { target: 'https://10.0.0.1', env: {}, proxy: undefined },
      { target: 'https://10.0.0.1', env: { HTTPS_PROXY: 'http://p:3128' }, proxy: 'http://p:3128/' },
      { target: 'https://10.0.0.1', env: { HTTPS_PROXY: 'p:3128' }, proxy: 'http://p:3128/' },
      { target: 'https://10.0.0.1', env: { HTTPS_PROXY: '' }, proxy: undefined },
      { target: 'https://10.0.0.1', env: { HTTPS_PROXY: '', https_proxy: 'http://p' }, proxy: undefined },
      { target: 'http://10.0.0.1:8080', env: { HTTP_PROXY: 'http://p' }, proxy: 'http://p/' },
      { target: 'http://10.0.0.1:8080', env: { HTTPS_PROXY: 'http://p' }, proxy: undefined },
      { target: 'https://127.0.0.5', env: { HTTPS_PROXY: 'http://p' }, proxy: undefined },
      { target: 'https://[::1]:6443', env: { HTTPS_PROXY: 'http://p' }, proxy: undefined },
      { target: 'https://localhost:6443', env: { HTTPS_PROXY: 'http://p' }, proxy: undefined },
      { target: 'https://api.corp', env: { HTTPS_PROXY: 'http://p', NO_PROXY: 'corp' }, proxy: undefined },
      { target: 'https://api.corp', env: { HTTPS_PROXY: 'http://p', NO_PROXY: '.corp' }, proxy: undefined },
      { target: 'https://corp', env: { HTTPS_PROXY: 'http://p', NO_PROXY: '.corp' }, proxy: 'http://p/' },
      { target: 'https://api.corp', env: { HTTPS_PROXY: 'http://p', NO_PROXY: '*.corp' }, proxy: undefined },
      { target: 'https://xcorp', env: { HTTPS_PROXY: 'http://p', NO_PROXY: 'corp' }, proxy: 'http://p/' },
      { target: 'https://api.corp', env: { HTTPS_PROXY: 'http://p', NO_PROXY: 'api.corp:443' }, proxy: undefined },
      {
        target: 'https://api.corp:6443',
        env: { HTTPS_PROXY: 'http://p', NO_PROXY: 'api.corp:443' },
        proxy: 'http://p/',
      },
      { target: 'https://10.96.0.1', env: { HTTPS_PROXY: 'http://p', NO_PROXY: '10.96.0.0/12' }, proxy: undefined },
      { target: 'https://10.112.0.1', env: { HTTPS_PROXY: 'http://p', NO_PROXY: '10.96.0.0/12' }, proxy: 'http://p/' },
      { target: 'https://[fd00::1]', env: { HTTPS_PROXY: 'http://p', NO_PROXY: 'fd00::/8' }, proxy: undefined },
      {
        target: 'https://[fd00::1]:6443',
        env: { HTTPS_PROXY: 'http://p', NO_PROXY: '[fd00::1]:6443' },
        proxy: undefined,
      },
      { target: 'https://API.Corp', env: { HTTPS_PROXY: 'http://p', NO_PROXY: ' API.CORP ' }, proxy: undefined },
      { target: 'https://a', env: { HTTPS_PROXY: 'http://p', NO_PROXY: 'x', no_proxy: 'a' }, proxy: 'http://p/' },
    ];
    for (const c of cases) {
      it(`${c.target} with ${JSON.stringify(c.env)} → ${c.proxy ?? 'direct'}`, () => {
        expect(proxyFromEnvironment(new URL(c.target), c.env)?.url.href).to.equal(c.proxy);
      });
    }

    it('HTTP_PROXY under CGI (REQUEST_METHOD set) is refused, as Go does (httpoxy)', () => {
      expect(() =>
        proxyFromEnvironment(new URL('http://a'), { HTTP_PROXY: 'http://p', REQUEST_METHOD: 'GET' }),
      ).to.throw(KdaError, /refusing to use HTTP_PROXY value in CGI environment/);
    });
  });
});
