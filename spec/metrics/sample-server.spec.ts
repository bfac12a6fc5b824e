import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Agent, request } from 'undici';
import { parseServeFlags, serveDefaults, type ServeOptions } from '../../cli/flags.js';
import { noopLogger } from '../../lib/log.js';
import { startSampleServer, type RunningSampleServer } from '../../examples/sample-apiserver/serve.js';

describe('serve flags: --enable-metrics and --log-level', () => {
  const cases: readonly { name: string; argv: string[]; want?: Partial<ServeOptions>; error?: RegExp }[] = [
    { name: 'defaults: metrics off, level unset', argv: [], want: { enableMetrics: false } },
    { name: '--enable-metrics', argv: ['--enable-metrics'], want: { enableMetrics: true } },
    { name: '--enable-metrics=false', argv: ['--enable-metrics=false'], want: { enableMetrics: false } },
    { name: '--log-level=debug', argv: ['--log-level=debug'], want: { logLevel: 'debug' } },
    {
      name: '--log-level loud is refused',
      argv: ['--log-level', 'loud'],
      error: /^--log-level: unknown level "loud"$/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.error) {
        expect(() => parseServeFlags(c.argv)).to.throw(c.error);
        return;
      }
      const { options } = parseServeFlags(c.argv);
      expect(options).to.deep.include(c.want!);
      if (!c.argv.some((a) => a.startsWith('--log-level'))) expect(options.logLevel).to.equal(undefined);
    });
  }
});

describe('sample server (standalone) /metrics', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'kda-metrics-'));
  const closers: (() => Promise<unknown>)[] = [];
  const start = async (enableMetrics: boolean): Promise<RunningSampleServer> => {
    const running = await startSampleServer(
      { ...serveDefaults, securePort: 0, bindAddress: '127.0.0.1', certDir: dir, enableMetrics },
      { logger: noopLogger, env: {}, cwd: dir },
    );
    closers.push(() => running.close());
    return running;
  };
  const agent = (user?: string): Agent => {
    const a = new Agent({
      connect: {
        ca: readFileSync(join(dir, 'serving-ca.crt')),
        ...(user && { cert: readFileSync(join(dir, `${user}.crt`)), key: readFileSync(join(dir, `${user}.key`)) }),
      },
    });
    closers.push(() => a.close());
    return a;
  };
  after(async () => {
    for (const c of closers.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  it('off by default: /metrics is a 404 even for system:masters', async () => {
    const s = await start(false);
    expect(s.metrics).to.equal(undefined);
    const r = await request(`https://127.0.0.1:${s.server.port}/metrics`, { dispatcher: agent('admin') });
    await r.body.text();
    expect(r.statusCode).to.equal(404);
  });

  it('--enable-metrics: anonymous and alice (no /metrics rule) 403, admin 200 with the traffic counted', async () => {
    const s = await start(true);
    const base = `https://127.0.0.1:${s.server.port}`;
    const anon = await request(`${base}/metrics`, { dispatcher: agent() });
    expect(anon.statusCode).to.equal(403);
    await anon.body.text();
    const aliceScrape = await request(`${base}/metrics`, { dispatcher: agent('alice') });
    expect(aliceScrape.statusCode).to.equal(403);
    await aliceScrape.body.text();
    const widgets = await request(`${base}/apis/sample.kube-delegated-auth.io/v1alpha1/namespaces/default/widgets`, {
      dispatcher: agent('alice'),
    });
    await widgets.body.text();
    expect(widgets.statusCode).to.equal(200);
    const r = await request(`${base}/metrics`, { dispatcher: agent('admin') });
    const text = await r.body.text();
    expect(r.statusCode).to.equal(200);
    expect(r.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
    expect(text).to.match(/^authentication_attempts\{result="success"\} [1-9]/m);
    expect(text).to.match(/^authorization_attempts_total\{result="allowed"\} [1-9]/m);
    expect(text).to.match(/^authorization_attempts_total\{result="no-opinion"\} [1-9]/m);
    expect(text).to.match(/^apiserver_client_certificate_expiration_seconds_count [1-9]/m);
    expect(text).to.match(/^kube_delegated_auth_trust_loaded\{name="client-ca-bundle::[^"]+"\} 1$/m);
    expect(text).to.match(/^kube_delegated_auth_trust_loaded\{name="request-header::[^"]+"\} 1$/m);
    expect(text).to.match(/^process_resident_memory_bytes \d+/m);
  });
});
