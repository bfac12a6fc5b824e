// examples/my-extension-apiserver's own pieces, without a cluster: its Go-named flags and its minimal health
// endpoints (Go's output format, the shutdown check only on /readyz). The whole server runs against the real
// kube-apiserver in spec/e2e/my-extension-apiserver.spec.ts.
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import Koa from 'koa';
import { parseDuration, parseFlags } from '../../examples/my-extension-apiserver/src/flags.js';
import { healthEndpoints, type HealthCheck } from '../../examples/my-extension-apiserver/src/health.js';

describe('examples/my-extension-apiserver: flags', () => {
  it('parses Go durations and names the flag of a bad one', () => {
    expect(parseDuration('x', '0')).to.equal(0);
    expect(parseDuration('x', '500ms')).to.equal(500);
    expect(parseDuration('x', '10s')).to.equal(10_000);
    expect(parseDuration('x', '1m30s')).to.equal(90_000);
    for (const bad of ['', '10', '10 s', 's', '-1s', '1d', '10s '])
      expect(() => parseDuration('shutdown-delay-duration', bad), bad).to.throw(/^--shutdown-delay-duration: invalid/);
  });

  it('defaults as documented, and refuses a bad port or an unknown flag', () => {
    const f = parseFlags([]);
    expect(f).to.deep.include({ securePort: 8443, bindAddress: '0.0.0.0', shutdownDelayDuration: 0 });
    expect(parseFlags(['--shutdown-delay-duration', '10s']).shutdownDelayDuration).to.equal(10_000);
    expect(() => parseFlags(['--secure-port', '70000'])).to.throw(/^--secure-port:/);
    expect(() => parseFlags(['--no-such-flag'])).to.throw(/no-such-flag/);
  });
});

describe('examples/my-extension-apiserver: health endpoints', () => {
  let server: ReturnType<Koa['listen']> | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function serve(readyz: HealthCheck[]): Promise<(path: string) => Promise<[number, string]>> {
    const app = new Koa();
    app.use(healthEndpoints({ livez: [], readyz }));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server!.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    return async (path) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return [res.status, await res.text()];
    };
  }

  it("answers Go's format, and a failing shutdown check fails /readyz only", async () => {
    let shuttingDown = false;
    const readyz: HealthCheck[] = [];
    const get = await serve(readyz);
    // Added after the app is built, as the example does once the server exists.
    readyz.push({
      name: 'shutdown',
      check() {
        if (shuttingDown) throw new Error('process is shutting down');
      },
    });
    expect(await get('/readyz')).to.deep.equal([200, 'ok']);
    expect(await get('/readyz?verbose')).to.deep.equal([200, '[+]ping ok\n[+]shutdown ok\nreadyz check passed\n']);
    shuttingDown = true;
    expect(await get('/readyz')).to.deep.equal([
      500,
      '[+]ping ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n',
    ]);
    expect(await get('/livez')).to.deep.equal([200, 'ok']);
    expect(await get('/healthz')).to.deep.equal([200, 'ok']);
    expect((await get('/other'))[0]).to.equal(404);
  });
});
