// Issue 14: WithAuthentication (lib/http/authentication.ts) and the pipeline (lib/http/pipeline.ts) take the
// authenticator's synchronous answer first (`authenticateRequestSync`) and give their outcome without a promise when
// every step answered at once. This property runs the frozen old step and pipeline (spec/http/legacy/, one await per
// step, over the authenticator's asynchronous method only) and the new ones over the same authenticator kind with the
// same generated requests, and compares everything a caller can observe: the outcome (identity, state, attributes,
// authorization, the response bytes), a rejection, the log lines, the `kube-delegated-auth:authn` / `:authz`
// diagnostics events, the request's headers after stripping, the token-cache counters. Requests are Node
// IncomingMessages carrying real certificates from spec/support/pki on a stand-in TLS socket object (a property of
// hundreds of cases cannot open real TLS connections each; the adapters' specs do that over real TLS); the token and
// SubjectAccessReview backends are in-process fakes (real ones need a kube-apiserver: spec/e2e).
import { expect } from 'chai';
import type { X509Certificate } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import fc from 'fast-check';
import { newDelegatingAuthenticator } from '../../lib/authn/delegating.js';
import type { AuthenticationResult, RequestAuthenticator, TokenAuthenticator } from '../../lib/authn/interfaces.js';
import { cachedTokenAuthenticator, type CachedTokenAuthenticator } from '../../lib/authn/token-cache.js';
import { newDelegatingAuthorizer } from '../../lib/authz/delegating.js';
import type { SubjectAccessReview } from '../../lib/authz/interfaces.js';
import { KdaError } from '../../lib/errors.js';
import { authenticationStep } from '../../lib/http/authentication.js';
import { delegatedAuthPipeline, type PipelineRunHooks } from '../../lib/http/pipeline.js';
import type { Logger } from '../../lib/log.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { fuzzParams, fuzzTimeout } from '../fuzz/runs.js';
import { testPki } from '../support/pki.js';
import { legacyAuthenticationStep, legacyPipeline } from './legacy/authentication-pipeline.js';

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (fields: object, msg: string) => {
    const { stack: _stack, ...rest } = fields as Record<string, unknown>;
    lines.push(`${level} ${msg} ${JSON.stringify(rest)}`);
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Events published on both channels while `run` runs, without the timing. */
async function withEvents<T>(run: () => Promise<T>): Promise<{ value: T; events: unknown[] }> {
  const events: unknown[] = [];
  const onAuthn = (m: unknown, name: string | symbol) => {
    const { durationSeconds: _d, ...rest } = m as Record<string, unknown>;
    events.push({
      channel: String(name),
      ...rest,
      peerCertificates: (m as { peerCertificates: unknown[] }).peerCertificates?.length,
    });
  };
  subscribe('kube-delegated-auth:authn', onAuthn);
  subscribe('kube-delegated-auth:authz', onAuthn);
  try {
    return { value: await run(), events: JSON.parse(JSON.stringify(events, errorReplacer)) };
  } finally {
    unsubscribe('kube-delegated-auth:authn', onAuthn);
    unsubscribe('kube-delegated-auth:authz', onAuthn);
  }
}

function errorReplacer(_k: string, v: unknown): unknown {
  return v instanceof Error
    ? { name: v.name, message: v.message, ...(v instanceof KdaError && { code: v.code, details: v.details }) }
    : v;
}

function review(token: string): AuthenticationResult {
  if (token === 'good' || token === 'fresh') {
    return {
      ok: true,
      user: { name: `token-${token}`, uid: '', groups: ['dev'], extra: {} },
      authenticator: 'tokenreview',
    };
  }
  if (token === 'broken') return { ok: false, error: new KdaError('ERR_KDA_REVIEW_FAILED', 'token review failed') };
  return { ok: false };
}

interface Config {
  readonly requestHeader: boolean;
  readonly clientCA: boolean;
  readonly tokens: boolean;
  readonly anonymous: boolean;
  readonly authorizer: boolean;
  readonly hooks: 'none' | 'attributes' | 'override' | 'override-throws';
}

interface Side {
  readonly authenticator: RequestAuthenticator;
  readonly cache: CachedTokenAuthenticator;
  readonly logger: ReturnType<typeof capture>;
  readonly options: Parameters<typeof delegatedAuthPipeline>[0] & { authenticator: RequestAuthenticator };
  readonly socket: object;
}

let pki: ReturnType<typeof testPki>;
let frontProxyCA: ReturnType<typeof staticCABundle>;
let clientCA: ReturnType<typeof staticCABundle>;
let leaves: Record<string, X509Certificate | undefined>;
const configProvider = staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] });

async function side(config: Config, leaf: X509Certificate | undefined): Promise<Side> {
  const inner: TokenAuthenticator = { authenticateToken: async (t) => review(t) };
  const cache = cachedTokenAuthenticator(inner, { successTtl: 60_000, failureTtl: 60_000 });
  await cache.authenticateToken('good');
  await cache.authenticateToken('bad');
  const requestHeader = { caProvider: frontProxyCA, configProvider };
  const authenticator = newDelegatingAuthenticator({
    ...(config.requestHeader && { requestHeader }),
    ...(config.clientCA && { clientCA }),
    ...(config.tokens && { tokenAuthenticator: cache }),
    anonymous: config.anonymous,
  });
  const logger = capture();
  const sars = {
    create: async (sar: SubjectAccessReview) => ({
      allowed: (sar.spec.groups ?? []).includes('dev') || sar.spec.user === 'alice',
      ...(sar.spec.user === 'system:anonymous' && { reason: 'anonymous' }),
    }),
  };
  const authorizer = config.authorizer
    ? newDelegatingAuthorizer({ client: sars, authorizationAlwaysAllowPaths: ['/healthz'] })
    : undefined;
  // A TLS socket as lib/http/request.ts reads it: encrypted, with the client's leaf.
  const socket = Object.assign(new Socket(), {
    encrypted: true,
    getPeerX509Certificate: () => leaf,
    isSessionReused: () => false,
  });
  return {
    authenticator,
    cache,
    logger,
    socket,
    options: { authenticator, ...(authorizer && { authorizer }), requestHeader, logger },
  };
}

function request(socket: object, method: string, url: string, lines: readonly (readonly [string, string])[]) {
  const req = new IncomingMessage(socket as Socket);
  req.method = method;
  req.url = url;
  req.rawHeaders = lines.flatMap(([n, v]) => [n, v]);
  const headers: Record<string, string> = {};
  const distinct: Record<string, string[]> = {};
  for (const [n, v] of lines) {
    const k = n.toLowerCase();
    headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
    (distinct[k] ??= []).push(v);
  }
  req.headers = headers;
  req.headersDistinct = distinct;
  return req;
}

function hooksOf(kind: Config['hooks']): PipelineRunHooks {
  if (kind === 'attributes') return { attributes: (d) => ({ ...d, namespace: 'forced' }) };
  if (kind === 'override') return { override: () => ({ verb: 'get', resource: 'metrics', resourceRequest: true }) };
  if (kind === 'override-throws') {
    return {
      override: () => {
        throw new Error('route override bug');
      },
    };
  }
  return {};
}

async function settled<T>(run: () => T | Promise<T>): Promise<unknown> {
  try {
    return JSON.parse(JSON.stringify(await run(), errorReplacer));
  } catch (err) {
    return { rejected: String((err as Error)?.message ?? err) };
  }
}

const headersAfter = (req: IncomingMessage) => ({
  headers: req.headers,
  distinct: req.headersDistinct,
  raw: req.rawHeaders,
});

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const lineArb = fc.oneof(
  fc.constantFrom<readonly [string, string]>(
    ['X-Remote-User', 'bob'],
    ['X-Remote-User', ''],
    ['X-Remote-Group', 'dev'],
    ['X-Remote-Group', 'system:masters'],
    ['X-Remote-Extra-Scopes', 'read'],
    ['X-Remote_User', 'look-alike'],
    ['Impersonate-User', 'admin'],
    ['Authorization', 'Bearer good'],
    ['Authorization', 'Bearer fresh'],
    ['Authorization', 'Bearer bad'],
    ['Authorization', 'Bearer broken'],
    ['Authorization', 'Basic Zm9v'],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Protocol', `base64url.bearer.authorization.k8s.io.${b64('good')}, chat`],
    ['Accept', 'application/json'],
  ),
);
const urls = [
  '/apis/example.com/v1/namespaces/default/widgets',
  '/api/v1/pods?watch=true',
  '/healthz',
  '/metrics',
  '/api/v1/watch/pods',
  '/a/../b',
  'http://example.com/apis/example.com/v1/widgets/a',
];

describe('http: WithAuthentication and the pipeline answer at once exactly as the old asynchronous code', function () {
  before(() => {
    pki = testPki();
    frontProxyCA = staticCABundle(pki.frontProxyCA.certPem, 'requestheader-client-ca');
    clientCA = staticCABundle(pki.clientCA.certPem, 'client-ca');
    leaves = {
      none: undefined,
      proxy: pki.proxy.x509,
      proxyOtherCN: pki.proxyOtherCN.x509,
      proxyExpired: pki.proxyExpired.x509,
      alice: pki.alice.x509,
      clientNoCN: pki.clientNoCN.x509,
    };
  });

  it('same outcome, response, logs, events, stripped headers and counters on every generated request', async function () {
    this.timeout(fuzzTimeout(200, 25));
    let immediate = 0;
    let pending = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          requestHeader: fc.boolean(),
          clientCA: fc.boolean(),
          tokens: fc.boolean(),
          anonymous: fc.boolean(),
          authorizer: fc.boolean(),
          hooks: fc.constantFrom(
            'none' as const,
            'attributes' as const,
            'override' as const,
            'override-throws' as const,
          ),
        }),
        fc.constantFrom(...Object.keys(leaves)),
        fc.array(
          fc.record({
            method: fc.constantFrom('GET', 'POST', 'DELETE'),
            url: fc.constantFrom(...urls),
            lines: fc.array(lineArb, { maxLength: 6 }),
            step: fc.boolean(),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        async (config, leafName, requests) => {
          if (!config.requestHeader && !config.clientCA && !config.tokens && !config.anonymous) return;
          const leaf = leaves[leafName];
          const old = await side(config, leaf);
          const now = await side(config, leaf);
          const asyncOnly: RequestAuthenticator = {
            authenticateRequest: (r, s) => old.authenticator.authenticateRequest(r, s),
          };
          const oldPipeline = legacyPipeline({ ...old.options, authenticator: asyncOnly });
          const oldStep = legacyAuthenticationStep({ ...old.options, authenticator: asyncOnly });
          const newPipeline = delegatedAuthPipeline(now.options);
          const newStep = authenticationStep(now.options);
          for (const { method, url, lines, step } of requests) {
            const oldReq = request(old.socket, method, url, lines);
            const newReq = request(now.socket, method, url, lines);
            const a = await withEvents(() =>
              settled((): Promise<unknown> =>
                step ? oldStep(oldReq) : oldPipeline.run(oldReq, undefined, url, hooksOf(config.hooks)),
              ),
            );
            const b = await withEvents(() =>
              settled((): unknown => {
                const r = step ? newStep(newReq) : newPipeline.run(newReq, undefined, url, hooksOf(config.hooks));
                if (r instanceof Promise) pending++;
                else immediate++;
                return r;
              }),
            );
            expect(b.value, 'outcome').to.deep.equal(a.value);
            expect(b.events, 'diagnostics events').to.deep.equal(a.events);
            expect(now.logger.lines, 'log lines').to.deep.equal(old.logger.lines);
            expect(headersAfter(newReq), 'headers after stripping').to.deep.equal(headersAfter(oldReq));
            expect(newReq.url, 'req.url').to.equal(oldReq.url);
            expect(now.cache.stats(), 'token cache counters').to.deep.equal(old.cache.stats());
          }
        },
      ),
      fuzzParams(200),
    );
    expect(immediate, 'outcomes given at once').to.be.greaterThan(0);
    expect(pending, 'outcomes given as a promise').to.be.greaterThan(0);
  });
});

describe('http: the synchronous path, negative cases', () => {
  const success: AuthenticationResult = {
    ok: true,
    user: { name: 'u', uid: '', groups: [], extra: {} },
    authenticator: 'custom',
  };
  const plainReq = () => request(new Socket(), 'GET', '/x', [['X-Remote-User', 'bob']]);

  it('a synchronous method that throws is a 500 with the cause logged, as a rejection of the asynchronous one', async () => {
    const syncLogger = capture();
    const asyncLogger = capture();
    const viaSync = authenticationStep({
      authenticator: {
        authenticateRequest: async () => success,
        authenticateRequestSync: () => {
          throw new Error('sync bug');
        },
      },
      logger: syncLogger,
    })(plainReq());
    const viaAsync = authenticationStep({
      authenticator: {
        authenticateRequest: async () => {
          throw new Error('sync bug');
        },
      },
      logger: asyncLogger,
    })(plainReq());
    expect(viaSync).not.to.be.instanceOf(Promise);
    expect(await viaSync).to.deep.equal(await viaAsync);
    expect((await viaSync).ok).to.equal(false);
    expect(JSON.stringify(await viaSync)).to.include('500');
    expect(syncLogger.lines).to.deep.equal(asyncLogger.lines);
    expect(syncLogger.lines.join('\n')).to.include('sync bug');
  });

  it('a synchronous answer that is not a result is a 500 (never an identity), as from the asynchronous one', async () => {
    for (const garbage of [null, 42, 'ok']) {
      const logger = capture();
      const r = authenticationStep({
        authenticator: {
          authenticateRequest: async () => success,
          authenticateRequestSync: () => garbage as unknown as AuthenticationResult,
        },
        logger,
      })(plainReq());
      expect(r).not.to.be.instanceOf(Promise);
      expect((r as { ok: boolean }).ok, String(garbage)).to.equal(false);
      expect(logger.lines.join('\n')).to.include('authenticator returned no result');
    }
  });

  it('undefined from the synchronous method defers to the asynchronous one, whose refusal stands', async () => {
    let asyncCalls = 0;
    const logger = capture();
    const r = authenticationStep({
      authenticator: {
        authenticateRequest: async () => (asyncCalls++, { ok: false, error: new KdaError('ERR_KDA_BAD_HEADER', 'no') }),
        authenticateRequestSync: () => undefined,
      },
      logger,
    })(plainReq());
    expect(r).to.be.instanceOf(Promise);
    expect(await r).to.have.property('ok', false);
    expect(asyncCalls).to.equal(1);
    expect(logger.lines).to.have.length(1);
  });

  it('an authenticator without the synchronous method still works: identity via the promise, headers stripped', async () => {
    const req = plainReq();
    const r = authenticationStep({ authenticator: { authenticateRequest: async () => success } })(req);
    expect(r).to.be.instanceOf(Promise);
    expect(await r).to.deep.include({ ok: true });
    expect(req.headers).not.to.have.property('x-remote-user');
  });

  it('a route override that throws still rejects the pipeline (the adapters answer it), after a synchronous authentication', async () => {
    const pipeline = delegatedAuthPipeline({
      authenticator: { authenticateRequest: async () => success, authenticateRequestSync: () => success },
      authorizer: { authorize: async () => ({ decision: 'Allow', reason: '' }) },
    });
    const r = pipeline.run(plainReq(), undefined, '/x', {
      override: () => {
        throw new Error('override bug');
      },
    });
    expect(r).to.be.instanceOf(Promise);
    let caught: unknown;
    await (r as Promise<unknown>).catch((err: unknown) => (caught = err));
    expect((caught as Error)?.message).to.equal('override bug');
  });
});
