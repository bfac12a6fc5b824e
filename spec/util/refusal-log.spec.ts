// Issue 10, finding 6: refusal lines are driven by unauthenticated clients, so they are rate-limited per cause, the
// suppressed ones summarised and counted (kube_delegated_auth_suppressed_log_lines_total).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { expect } from 'chai';
import Koa from 'koa';
import { newDelegatingAuthenticator } from '../../lib/authn/delegating.js';
import { staticPolicyAuthorizer } from '../../lib/authz/static-policy.js';
import { RefusalLog, suppressedLogChannel, type SuppressedLogEvent } from '../../lib/util/refusal-log.js';
import { delegatedAuth } from '../../lib/koa/index.js';
import type { Logger } from '../../lib/log.js';
import { createMetrics } from '../../lib/metrics/metrics.js';
import { withDelegatedAuth } from '../../lib/node-http/index.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { testPki } from '../support/pki.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';

interface Line {
  readonly level: string;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

function capture(onLine?: (l: Line) => void): { lines: Line[]; logger: Logger } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: object, msg: string) => {
    const l = { level, msg, fields: fields as Record<string, unknown> };
    lines.push(l);
    onLine?.(l);
  };
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('RefusalLog (per-cause rate limit of refusal lines)', () => {
  const published: SuppressedLogEvent[] = [];
  const onSuppressed = (m: unknown) => void published.push(m as SuppressedLogEvent);
  beforeEach(() => {
    published.length = 0;
    subscribe(suppressedLogChannel.name, onSuppressed);
  });
  afterEach(() => unsubscribe(suppressedLogChannel.name, onSuppressed));

  it('logs at most `burst` lines per cause per window, counts the rest and summarises them once', () => {
    const log = capture();
    const limiter = new RefusalLog(log.logger, { burst: 3, interval: 3_600_000 });
    for (let i = 0; i < 10; i++) limiter.log('warn', 'authentication', 'x509-unknown-authority', { i }, `refused ${i}`);
    for (let i = 0; i < 2; i++) limiter.log('info', 'authorization', 'forbidden:bob', { i }, `forbidden ${i}`);
    expect(log.lines.map((l) => l.msg)).to.deep.equal([
      'refused 0',
      'refused 1',
      'refused 2',
      'forbidden 0',
      'forbidden 1',
    ]);
    expect(published).to.have.length(7);
    expect(published.every((e) => e.category === 'authentication')).to.equal(true);
    limiter.flush();
    const summary = log.lines.at(-1)!;
    expect(summary).to.deep.include({ level: 'warn', msg: 'suppressed 7 similar log lines' });
    expect(summary.fields).to.deep.include({ cause: 'authentication:x509-unknown-authority', suppressed: 7 });
    // Nothing else was summarised (the forbidden cause stayed under its burst).
    expect(log.lines.filter((l) => l.msg.startsWith('suppressed'))).to.have.length(1);
  });

  it('the window ends on its own: the summary is written by the periodic sweep, then the cause may log again', async () => {
    let summarised: () => void = () => {};
    const summary = new Promise<void>((resolve) => (summarised = resolve));
    const log = capture((l) => l.msg.startsWith('suppressed') && summarised());
    const limiter = new RefusalLog(log.logger, { burst: 1, interval: 20 });
    for (let i = 0; i < 5; i++) limiter.log('warn', 'authentication', 'bad-token', {}, `refused ${i}`);
    await summary;
    expect(log.lines.map((l) => l.msg)).to.deep.equal(['refused 0', 'suppressed 4 similar log lines']);
    limiter.log('warn', 'authentication', 'bad-token', {}, 'refused again');
    expect(log.lines.at(-1)!.msg).to.equal('refused again');
    limiter.flush();
  });

  it('a flood of distinct causes stays bounded (beyond 1024 causes they share one bucket)', () => {
    const log = capture();
    const limiter = new RefusalLog(log.logger, { burst: 1, interval: 3_600_000 });
    for (let i = 0; i < 5000; i++) limiter.log('info', 'authorization', `forbidden:user-${i}`, {}, `forbidden ${i}`);
    // 1024 distinct causes, then one shared `other` bucket allowed its one line.
    expect(log.lines).to.have.length(1025);
    expect(published).to.have.length(5000 - 1025);
    limiter.flush();
    expect(log.lines.at(-1)!.fields).to.deep.include({ cause: 'authorization:other', suppressed: 5000 - 1025 });
  });

  it('refuses a nonsensical limit', () => {
    const { logger } = capture();
    expect(() => new RefusalLog(logger, { burst: -1 })).to.throw('burst');
    expect(() => new RefusalLog(logger, { interval: 0 })).to.throw('interval');
  });
});

describe('refusal log limit through the adapters on real TLS, counted by lib/metrics', () => {
  const pki = testPki();
  const agent = clientAgent();
  const servers: TestTlsServer[] = [];
  after(() => agent.close());
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  const parts = () => ({
    authenticator: newDelegatingAuthenticator({
      anonymous: true,
      clientCA: staticCABundle(pki.clientCA.certPem),
      tokenAuthenticator: { authenticateToken: () => Promise.resolve({ ok: false }) } as never,
    }),
    authorizer: staticPolicyAuthorizer({ rules: [] }),
  });
  const limit = { burst: 2, interval: 3_600_000 };

  const adapters: readonly { name: string; handler(logger: Logger): Parameters<typeof startTlsServer>[0] }[] = [
    {
      name: 'node:http withDelegatedAuth()',
      handler: (logger) =>
        withDelegatedAuth((_q, r) => void r.end('ok'), { ...parts(), logger, refusalLogLimit: limit }),
    },
    {
      name: 'koa delegatedAuth()',
      handler: (logger) => {
        const app = new Koa();
        app.silent = true;
        const requestHeader = {
          caProvider: staticCABundle(pki.frontProxyCA.certPem),
          configProvider: staticRequestHeaderConfig(),
        };
        app.use(delegatedAuth({ ...parts(), requestHeader, logger, refusalLogLimit: limit }));
        return app.callback();
      },
    },
  ];

  for (const adapter of adapters) {
    it(`${adapter.name}: 10 bad tokens and 6 anonymous 403s log 2 lines per cause; the rest is counted`, async () => {
      const metrics = createMetrics();
      try {
        const log = capture();
        const s = await startTlsServer(adapter.handler(log.logger));
        servers.push(s);
        const send = async (headers: Record<string, string>) => {
          const r = await agent.request({ origin: s.url, path: '/apis/g/v1/things', method: 'GET', headers });
          await r.body.text();
          return r.statusCode;
        };
        for (let i = 0; i < 10; i++) expect(await send({ authorization: 'Bearer nope' })).to.equal(401);
        for (let i = 0; i < 6; i++) expect(await send({})).to.equal(403);
        expect(log.lines.filter((l) => l.msg.startsWith('request refused'))).to.have.length(2);
        expect(log.lines.filter((l) => l.msg.startsWith('forbidden'))).to.have.length(2);
        const text = await metrics.metrics();
        expect(text).to.contain('kube_delegated_auth_suppressed_log_lines_total{category="authentication"} 8');
        expect(text).to.contain('kube_delegated_auth_suppressed_log_lines_total{category="authorization"} 4');
      } finally {
        await metrics.close();
      }
    });
  }
});
