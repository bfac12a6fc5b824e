import { Writable } from 'node:stream';
import { expect } from 'chai';
import Koa from 'koa';
import { request, type Agent } from 'undici';
import { TokenReviewAuthenticator } from '../lib/authn/token-review.js';
import { Decision, type Authorizer } from '../lib/authz/interfaces.js';
import { KdaError } from '../lib/errors.js';
import { authenticate } from '../lib/koa/authenticate.js';
import { authorize } from '../lib/koa/authorize.js';
import { requestInfo } from '../lib/koa/request-info.js';
import { createPinoLogger } from '../lib/log-pino.js';
import { staticCABundle, staticRequestHeaderConfig } from '../lib/trust/static.js';
import { testPki, type TestCert } from './support/pki.js';
import { clientAgent, startTlsServer } from './support/tls-server.js';

type Line = Record<string, unknown>;

function captureStream(): Writable & { lines: Line[] } {
  const lines: Line[] = [];
  let buf = '';
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) !== -1) {
        lines.push(JSON.parse(buf.slice(0, i)) as Line);
        buf = buf.slice(i + 1);
      }
      cb();
    },
  });
  return Object.assign(w, { lines });
}

describe('createPinoLogger', () => {
  it('writes JSON lines with a level label, ISO time, msg and the fields', () => {
    const out = captureStream();
    const log = createPinoLogger({ destination: out, base: { component: 'test' } });
    log.warn({ authenticator: 'x509', check: 'chain' }, 'request refused');
    log.debug({}, 'not written at info');
    expect(out.lines).to.have.length(1);
    expect(out.lines[0]).to.include({
      level: 'warn',
      component: 'test',
      authenticator: 'x509',
      check: 'chain',
      msg: 'request refused',
    });
    expect(String(out.lines[0]!.time)).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('redacts token-like fields a caller might log', () => {
    const out = captureStream();
    const log = createPinoLogger({ destination: out });
    log.info({ token: 's3cret', headers: { authorization: 'Bearer s3cret' } }, 'oops');
    expect(JSON.stringify(out.lines)).not.to.contain('s3cret');
  });

  it('rejects an unknown level naming the flag', () => {
    expect(() => createPinoLogger({ level: 'loud' as never })).to.throw(/"level" \(--log-level\) must be one of/);
  });
});

describe('refusal logs: exactly one line per refusal, with its cause (real TLS, pino)', () => {
  const pki = testPki();
  const out = captureStream();
  const closers: (() => Promise<unknown>)[] = [];
  let url = '';
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  before(async () => {
    const logger = createPinoLogger({ destination: out, level: 'info' });
    // in-process fake TokenReview: every token is unknown to the cluster.
    const tokenAuthenticator = new TokenReviewAuthenticator({
      client: { create: async () => ({ authenticated: false }) },
      logger,
    });
    const authorizer: Authorizer = {
      async authorize(attrs) {
        if (attrs.user.name === 'forbidden-user') return { decision: Decision.Deny, reason: 'policy says no' };
        if (attrs.user.name === 'boom') {
          return {
            decision: Decision.NoOpinion,
            reason: '',
            error: new KdaError('ERR_KDA_REVIEW_FAILED', 'subjectaccessreviews: connection refused'),
          };
        }
        return { decision: Decision.Allow, reason: '' };
      },
    };
    const app = new Koa();
    app.use(requestInfo({ logger }));
    app.use(
      authenticate({
        requestHeader: {
          caProvider: staticCABundle(pki.frontProxyCA.certPem, 'request-header::test'),
          configProvider: staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] }),
        },
        clientCA: staticCABundle(pki.clientCA.certPem, 'client-ca::test'),
        tokenAuthenticator,
        logger,
      }),
    );
    app.use(authorize({ authorizer, logger }));
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const srv = await startTlsServer(app.callback());
    closers.push(() => srv.close());
    url = srv.url;
  });

  interface Case {
    readonly name: string;
    readonly cert?: () => TestCert;
    readonly headers: Record<string, string>;
    readonly status: number;
    readonly level: string;
    /** Fields the one line must carry. */
    readonly fields: Line;
    /** Field names that must be present (values vary). */
    readonly present?: readonly string[];
  }
  const cases: readonly Case[] = [
    {
      name: 'front-proxy certificate with a CN not in requestheader-allowed-names: 401, warn',
      cert: () => pki.proxyOtherCN,
      headers: { 'x-remote-user': 'mallory' },
      status: 401,
      level: 'warn',
      fields: { authenticator: 'requestheader', subjectCN: 'not-the-proxy' },
      present: ['check', 'issuer'],
    },
    {
      name: 'certificate from an unknown CA: 401, warn',
      cert: () => pki.proxyFromOtherCA,
      headers: { 'x-remote-user': 'mallory' },
      status: 401,
      level: 'warn',
      fields: { subjectCN: 'front-proxy-client' },
      present: ['authenticator', 'check', 'issuer', 'caName'],
    },
    {
      name: 'expired front-proxy certificate: 401, warn',
      cert: () => pki.proxyExpired,
      headers: { 'x-remote-user': 'mallory' },
      status: 401,
      level: 'warn',
      fields: { subjectCN: 'front-proxy-client' },
      present: ['authenticator', 'check', 'issuer'],
    },
    {
      name: 'bad bearer token: 401, warn, the token never logged',
      headers: { authorization: 'Bearer not-a-real-token-123' },
      status: 401,
      level: 'warn',
      fields: { authenticator: 'bearer-token', header: 'authorization' },
      present: ['check'],
    },
    {
      name: 'authorizer denies: 403, info with the reason',
      cert: () => pki.proxy,
      headers: { 'x-remote-user': 'forbidden-user' },
      status: 403,
      level: 'info',
      fields: { user: 'forbidden-user', decision: 'Deny', reason: 'policy says no' },
    },
    {
      name: 'authorizer error: 500, error with the cause',
      cert: () => pki.proxy,
      headers: { 'x-remote-user': 'boom' },
      status: 500,
      level: 'error',
      fields: { user: 'boom', code: 'ERR_KDA_REVIEW_FAILED', error: 'subjectaccessreviews: connection refused' },
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const agent: Agent = clientAgent(c.cert?.());
      closers.push(() => agent.close());
      const from = out.lines.length;
      const r = await request(`${url}/apis/x/v1/namespaces/default/things`, { dispatcher: agent, headers: c.headers });
      await r.body.text();
      expect(r.statusCode).to.equal(c.status);
      const lines = out.lines.slice(from);
      expect(lines, JSON.stringify(lines)).to.have.length(1);
      const line = lines[0]!;
      expect(line.level).to.equal(c.level);
      expect(line).to.deep.include(c.fields);
      for (const k of c.present ?? []) {
        expect(line, `field ${k}`).to.have.property(k).that.is.a('string');
        expect(line[k], `field ${k}`).not.to.equal('');
      }
      expect(JSON.stringify(line)).not.to.contain('not-a-real-token-123');
    });
  }

  it('an allowed request writes no line at info', async () => {
    const agent = clientAgent(pki.proxy);
    closers.push(() => agent.close());
    const from = out.lines.length;
    const r = await request(`${url}/apis/x/v1/namespaces/default/things`, {
      dispatcher: agent,
      headers: { 'x-remote-user': 'alice' },
    });
    await r.body.text();
    expect(r.statusCode).to.equal(200);
    expect(out.lines.slice(from)).to.deep.equal([]);
  });
});

describe('createPinoLogger format', () => {
  function textCapture(): Writable & { text: string } {
    const w = new Writable({
      write(chunk: Buffer, _enc, cb) {
        w.text += chunk.toString('utf8');
        cb();
      },
    }) as Writable & { text: string };
    w.text = '';
    return w;
  }

  it('text: one line per entry (time, level, message, fields), redaction kept, a newline in a message escaped', () => {
    const out = textCapture();
    const log = createPinoLogger({ destination: out, format: 'text', base: { component: 'webhook' } });
    log.warn({ authorization: 'Bearer secret-token', user: 'alice', groups: ['a b'] }, 'refused\nsecond line');
    log.debug({}, 'below the level');
    const lines = out.text.split('\n');
    expect(lines).to.have.length(2);
    expect(lines[1]).to.equal('');
    expect(lines[0]).to.match(
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}refused\\nsecond line component=webhook authorization="\[redacted\]" user=alice groups=\["a b"\]$/,
    );
    expect(out.text).to.not.contain('secret-token');
  });

  it('json is the default, and auto writes JSON to a stream (a terminal is only detected on a file descriptor)', () => {
    for (const format of [undefined, 'json', 'auto'] as const) {
      const out = captureStream();
      createPinoLogger({ destination: out, ...(format && { format }) }).info({ token: 'abc' }, 'hello');
      expect(out.lines, String(format)).to.have.length(1);
      expect(out.lines[0]).to.deep.include({ level: 'info', msg: 'hello', token: '[redacted]' });
    }
  });
});
