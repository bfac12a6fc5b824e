// Issue 14: the authenticators gained an optional synchronous path (`authenticateRequestSync`, and
// `authenticateTokenSync` for the token cache) so that a request whose identity is known without I/O is answered
// without a promise per layer. This property drives three copies of the same delegating authenticator with the same
// generated requests and compares them:
//   * the frozen old assembly (spec/authn/legacy/: the union and group adder before the change, asynchronous only, over
//     the leaves' asynchronous methods),
//   * the new authenticator's asynchronous method alone,
//   * the new synchronous method, falling back to the asynchronous one when it says undefined (what lib/http does).
// Same result (user, groups, extra, authenticator, consumed headers, error codes, messages and details, declined
// causes), same token-cache counters and the same number of token reviews after every request. Requests carry
// front-proxy headers, bearer tokens (cached, cached rejections, expired, uncached, failing, throwing), WebSocket
// bearer subprotocols and real certificates from spec/support/pki (front proxy, other CN, expired, other CA, client
// users, no CN, an intermediate); configurations switch each authenticator, anonymous, the allowed names and API
// audiences, and wrap the stack in a union with a custom authenticator that has no synchronous method.
// The token reviews are an in-process fake (a real TokenReview needs a kube-apiserver; spec/e2e covers that).
import { expect } from 'chai';
import type { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { anonymousAuthenticator } from '../../lib/authn/anonymous.js';
import { bearerTokenAuthenticator } from '../../lib/authn/bearer-token.js';
import { newDelegatingAuthenticator } from '../../lib/authn/delegating.js';
import { authenticatedGroupAdder } from '../../lib/authn/group-adder.js';
import type {
  AuthenticationResult,
  AuthnRequest,
  RequestAuthenticator,
  TokenAuthenticator,
} from '../../lib/authn/interfaces.js';
import { secureRequestHeaderAuthenticator } from '../../lib/authn/request-header.js';
import { cachedTokenAuthenticator, type CachedTokenAuthenticator } from '../../lib/authn/token-cache.js';
import { unionAuthenticators, unionAuthenticatorsFailOnError } from '../../lib/authn/union.js';
import { websocketProtocolAuthenticator } from '../../lib/authn/websocket-protocol.js';
import { x509Authenticator } from '../../lib/authn/x509.js';
import { KdaError } from '../../lib/errors.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { fuzzParams, fuzzTimeout } from '../fuzz/runs.js';
import { testPki } from '../support/pki.js';
import {
  legacyAuthenticatedGroupAdder,
  legacyUnionAuthenticators,
  legacyUnionAuthenticatorsFailOnError,
} from './legacy/union-group-adder.js';

const ttl = 1000;

/** The fake TokenReview answers, by token. */
function review(token: string): AuthenticationResult {
  const ok = (name: string, groups: string[] = ['tokens']): AuthenticationResult => ({
    ok: true,
    user: { name, uid: `uid-${name}`, groups, extra: { scope: [token] } },
    authenticator: 'tokenreview',
    audiences: ['api'],
  });
  switch (token) {
    case 'good':
    case 'fresh':
    case 'expired':
      return ok(`token-${token}`);
    case 'authed-system':
      return ok('token-system', ['system:authenticated']);
    case 'anon':
      return ok('system:anonymous', []);
    case 'broken':
      return { ok: false, error: new KdaError('ERR_KDA_REVIEW_FAILED', 'token review failed: 503') };
    case 'throws':
      throw new Error('review client bug');
    default:
      return { ok: false };
  }
}

interface Side {
  readonly authenticator: RequestAuthenticator;
  readonly cache: CachedTokenAuthenticator;
  readonly reviews: { count: number };
  readonly clock: { t: number };
  /** The connection object this side's requests use (chain verdicts are cached per connection). */
  readonly connection: object;
}

interface Config {
  readonly requestHeader: boolean;
  readonly allowedNames: readonly string[];
  readonly clientCA: boolean;
  readonly tokens: boolean;
  readonly anonymous: boolean;
  readonly audiences: readonly string[] | undefined;
  readonly custom: 'none' | 'first' | 'last';
}

/** An authenticator of the caller's own, asynchronous only (no `authenticateRequestSync`). */
const custom: RequestAuthenticator = {
  async authenticateRequest(req) {
    const v = req.header('x-custom')[0];
    if (v === 'yes') return { ok: true, user: { name: 'custom', uid: '', groups: [], extra: {} }, authenticator: 'c' };
    if (v === 'err') return { ok: false, error: new KdaError('ERR_KDA_BAD_HEADER', 'custom refused') };
    return { ok: false };
  },
};

/** Only the asynchronous method: what the old code called. */
const asyncOnly = (a: RequestAuthenticator): RequestAuthenticator => ({
  authenticateRequest: (req, signal) => a.authenticateRequest(req, signal),
});

let pki: ReturnType<typeof testPki>;
let frontProxyCA: ReturnType<typeof staticCABundle>;
let clientCA: ReturnType<typeof staticCABundle>;
let chains: Record<string, readonly X509Certificate[]>;

async function side(config: Config, legacy: boolean): Promise<Side> {
  const reviews = { count: 0 };
  const clock = { t: 0 };
  const inner: TokenAuthenticator = {
    async authenticateToken(token) {
      reviews.count++;
      return review(token);
    },
  };
  const cache = cachedTokenAuthenticator(inner, { successTtl: ttl, failureTtl: ttl, clock: { now: () => clock.t } });
  const configProvider = staticRequestHeaderConfig({ allowedNames: [...config.allowedNames] });
  const requestHeader = config.requestHeader ? { caProvider: frontProxyCA, configProvider } : undefined;
  const audiences = config.audiences;
  let authenticator: RequestAuthenticator;
  if (legacy) {
    const members: RequestAuthenticator[] = [];
    if (requestHeader) members.push(asyncOnly(secureRequestHeaderAuthenticator(requestHeader)));
    if (config.clientCA) members.push(asyncOnly(x509Authenticator({ caProvider: clientCA })));
    if (config.tokens) {
      const tokens: TokenAuthenticator = { authenticateToken: (t, o) => cache.authenticateToken(t, o) };
      members.push(asyncOnly(bearerTokenAuthenticator(tokens, { audiences })));
      members.push(asyncOnly(websocketProtocolAuthenticator(tokens, { audiences })));
    }
    if (members.length === 0) authenticator = asyncOnly(anonymousAuthenticator());
    else {
      const authenticated = legacyAuthenticatedGroupAdder(legacyUnionAuthenticators(...members));
      authenticator = config.anonymous
        ? legacyUnionAuthenticatorsFailOnError(authenticated, asyncOnly(anonymousAuthenticator()))
        : authenticated;
    }
    if (config.custom === 'first') authenticator = legacyUnionAuthenticators(custom, authenticator);
    if (config.custom === 'last') authenticator = legacyUnionAuthenticators(authenticator, custom);
  } else {
    authenticator = newDelegatingAuthenticator({
      ...(requestHeader && { requestHeader }),
      ...(config.clientCA && { clientCA }),
      ...(config.tokens && { tokenAuthenticator: cache }),
      ...(audiences && { apiAudiences: audiences }),
      anonymous: config.anonymous,
    });
    if (config.custom === 'first') authenticator = unionAuthenticators(custom, authenticator);
    if (config.custom === 'last') authenticator = unionAuthenticators(authenticator, custom);
  }
  // The same cache history on every side: one entry expired by the time requests come, the others fresh.
  const opts = audiences ? { audiences } : {};
  await cache.authenticateToken('expired', opts);
  clock.t = 500;
  for (const t of ['good', 'bad', 'authed-system', 'anon', 'broken']) await cache.authenticateToken(t, opts);
  clock.t = 1200;
  return { authenticator, cache, reviews, clock, connection: {} };
}

/** A request view over header lines and a client chain, on the side's own connection. */
function viewOf(lines: readonly (readonly [string, string])[], chain: readonly X509Certificate[], connection: object) {
  const view: AuthnRequest = {
    method: 'GET',
    url: '/apis/example.com/v1/widgets',
    header: (name) => lines.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v),
    headerNames: () => [...new Set(lines.map(([n]) => n.toLowerCase()))],
    peerCertificates: chain,
    connection: chain.length > 0 ? connection : undefined,
  };
  return view;
}

/** Everything a caller can observe of a result, errors included (code, message, details, aggregated causes). */
function observable(r: AuthenticationResult | { threw: string }): unknown {
  return JSON.parse(
    JSON.stringify(r, (_k, v: unknown) =>
      v instanceof Error
        ? {
            name: v.name,
            message: v.message,
            ...(v instanceof KdaError && { code: v.code, details: v.details }),
            ...(v.cause !== undefined && { cause: String((v.cause as Error)?.message ?? v.cause) }),
          }
        : v,
    ),
  );
}

async function settle(run: () => Promise<AuthenticationResult>): Promise<AuthenticationResult | { threw: string }> {
  try {
    return await run();
  } catch (err) {
    return { threw: String((err as Error)?.message ?? err) };
  }
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const tokens = ['good', 'fresh', 'bad', 'broken', 'throws', 'expired', 'anon', 'authed-system', 'unknown'];
const lineArb: fc.Arbitrary<readonly [string, string]> = fc.oneof(
  fc.constantFrom<readonly [string, string]>(
    ['X-Remote-User', 'bob'],
    ['X-Remote-User', ''],
    ['x-remote-user', 'system:anonymous'],
    ['X-Remote-Group', 'dev'],
    ['X-Remote-Group', 'system:authenticated'],
    ['X-Remote-Group', 'system:unauthenticated'],
    ['X-Remote-Uid', 'u-1'],
    ['X-Remote-Extra-Scopes', 'read'],
    ['X-Remote-Extra-A%2fB', 'x'],
    ['Authorization', 'Basic Zm9vOmJhcg=='],
    ['Authorization', 'Bearer '],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Protocol', 'chat'],
    ['Sec-WebSocket-Protocol', 'base64url.bearer.authorization.k8s.io.!!'],
    ['X-Custom', 'yes'],
    ['X-Custom', 'err'],
  ),
  fc
    .tuple(fc.constantFrom(...tokens), fc.constantFrom('Bearer', 'bearer'))
    .map(([t, scheme]) => ['Authorization', `${scheme} ${t}`] as const),
  fc
    .constantFrom(...tokens)
    .map((t) => ['Sec-WebSocket-Protocol', `base64url.bearer.authorization.k8s.io.${b64(t)}, chat`] as const),
);

const configArb: fc.Arbitrary<Config> = fc.record({
  requestHeader: fc.boolean(),
  allowedNames: fc.constantFrom([], ['front-proxy-client'], ['someone-else']),
  clientCA: fc.boolean(),
  tokens: fc.boolean(),
  anonymous: fc.boolean(),
  audiences: fc.constantFrom(undefined, ['api']),
  custom: fc.constantFrom('none' as const, 'first' as const, 'last' as const),
});

const chainNames = [
  'none',
  'proxy',
  'proxyOtherCN',
  'proxyExpired',
  'proxyFromOtherCA',
  'proxyViaIntermediate',
  'alice',
  'clientProxyCN',
  'clientNoCN',
];

describe('authn: the synchronous path gives the asynchronous answer', function () {
  before(() => {
    pki = testPki();
    frontProxyCA = staticCABundle(pki.frontProxyCA.certPem, 'requestheader-client-ca');
    clientCA = staticCABundle(pki.clientCA.certPem, 'client-ca');
    chains = {
      none: [],
      proxy: [pki.proxy.x509],
      proxyOtherCN: [pki.proxyOtherCN.x509],
      proxyExpired: [pki.proxyExpired.x509],
      proxyFromOtherCA: [pki.proxyFromOtherCA.x509],
      proxyViaIntermediate: [pki.proxyViaIntermediate.x509, pki.frontProxyIntermediate.x509],
      alice: [pki.alice.x509],
      clientProxyCN: [pki.clientProxyCN.x509],
      clientNoCN: [pki.clientNoCN.x509],
    };
  });

  it('same results, token-cache counters and reviews as the frozen old authenticators, on every request', async function () {
    this.timeout(fuzzTimeout(300, 15));
    let answered = 0;
    let answeredOk = 0;
    let deferred = 0;
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.array(fc.record({ lines: fc.array(lineArb, { maxLength: 7 }), chain: fc.constantFrom(...chainNames) }), {
          minLength: 1,
          maxLength: 3,
        }),
        async (config, requests) => {
          if (!config.requestHeader && !config.clientCA && !config.tokens && !config.anonymous) {
            expect(() => newDelegatingAuthenticator({ anonymous: false })).to.throw(/no authentication method/);
            return;
          }
          const legacy = await side(config, true);
          const asyncSide = await side(config, false);
          const syncSide = await side(config, false);
          for (const { lines, chain } of requests) {
            const certs = chains[chain]!;
            const old = await settle(() =>
              legacy.authenticator.authenticateRequest(viewOf(lines, certs, legacy.connection)),
            );
            const viaAsync = await settle(() =>
              asyncSide.authenticator.authenticateRequest(viewOf(lines, certs, asyncSide.connection)),
            );
            const viaSync = await settle(async () => {
              const view = viewOf(lines, certs, syncSide.connection);
              const immediate = syncSide.authenticator.authenticateRequestSync?.(view);
              if (immediate === undefined) {
                deferred++;
                return syncSide.authenticator.authenticateRequest(view);
              }
              answered++;
              // Never "authenticated" at once where the old path refuses.
              if (immediate.ok) {
                answeredOk++;
                expect(old, 'a synchronous success the old path refuses').to.have.property('ok', true);
              }
              return immediate;
            });
            expect(observable(viaAsync), 'new asynchronous path vs old').to.deep.equal(observable(old));
            expect(observable(viaSync), 'synchronous path vs old').to.deep.equal(observable(old));
            expect(syncSide.cache.stats(), 'token cache counters').to.deep.equal(legacy.cache.stats());
            expect(asyncSide.cache.stats(), 'token cache counters (async)').to.deep.equal(legacy.cache.stats());
            expect(syncSide.reviews.count, 'token reviews').to.equal(legacy.reviews.count);
          }
        },
      ),
      fuzzParams(300),
    );
    // The property is not vacuous: both paths were taken, and identities were answered at once.
    expect(answered, 'answered synchronously').to.be.greaterThan(0);
    expect(answeredOk, 'authenticated synchronously').to.be.greaterThan(0);
    expect(deferred, 'deferred to the asynchronous path').to.be.greaterThan(0);
  });
});

describe('authn: authenticateRequestSync negative cases', () => {
  const okUser = (name: string): AuthenticationResult => ({
    ok: true,
    user: { name, uid: '', groups: [], extra: {} },
    authenticator: name,
  });
  const lines = (...l: [string, string][]) => viewOf(l, [], {});

  it('the token cache answers only a fresh cached success; misses, expired entries and rejections defer without a trace', async () => {
    let reviews = 0;
    const clock = { t: 0 };
    const cache = cachedTokenAuthenticator(
      { authenticateToken: async (t) => (reviews++, review(t)) },
      { successTtl: ttl, failureTtl: ttl, clock: { now: () => clock.t } },
    );
    expect(cache.authenticateTokenSync!('good'), 'miss').to.equal(undefined);
    expect(cache.stats()).to.include({ hits: 0, misses: 0, size: 0 });
    await cache.authenticateToken('good');
    await cache.authenticateToken('bad');
    await cache.authenticateToken('broken');
    expect(reviews).to.equal(3);
    const before = cache.stats();
    expect(cache.authenticateTokenSync!('bad'), 'cached rejection').to.equal(undefined);
    expect(cache.authenticateTokenSync!('broken'), 'errors are never cached').to.equal(undefined);
    expect(cache.stats(), 'deferring counts nothing').to.deep.equal(before);
    const hit = cache.authenticateTokenSync!('good');
    expect(hit).to.deep.include({ ok: true });
    expect(hit).to.equal(await cache.authenticateToken('good'), 'the same cached object as the async hit');
    expect(cache.stats().hits, 'one hit each, as the async path counts').to.equal(before.hits + 2);
    expect(cache.authenticateTokenSync!('good', { audiences: ['other'] }), 'audiences are part of the key').to.equal(
      undefined,
    );
    clock.t = ttl;
    const atExpiry = cache.stats();
    expect(cache.authenticateTokenSync!('good'), 'expired').to.equal(undefined);
    expect(cache.stats(), 'expired: no miss counted, nothing dropped').to.deep.equal(atExpiry);
    expect(reviews).to.equal(3);
  });

  it('a bearer token whose authenticator has no synchronous method defers; a missing header is answered', async () => {
    let calls = 0;
    const bearer = bearerTokenAuthenticator({ authenticateToken: async () => (calls++, okUser('t')) });
    expect(bearer.authenticateRequestSync!(lines(['Authorization', 'Bearer x']))).to.equal(undefined);
    expect(bearer.authenticateRequestSync!(lines())).to.deep.equal({ ok: false });
    expect(calls, 'the sync path never calls the asynchronous token authenticator').to.equal(0);
    expect(await bearer.authenticateRequest(lines(['Authorization', 'Bearer x']))).to.deep.include({ ok: true });
  });

  it('a union defers at the first member without an answer, and answers when an earlier member decides', () => {
    const first = unionAuthenticators(custom, anonymousAuthenticator());
    expect(first.authenticateRequestSync!(lines(['X-Custom', 'yes']))).to.equal(undefined);
    expect(first.authenticateRequestSync!(lines())).to.equal(undefined);
    const last = unionAuthenticators(anonymousAuthenticator(), custom);
    expect(last.authenticateRequestSync!(lines(['X-Custom', 'yes']))).to.deep.include({
      ok: true,
      authenticator: 'anonymous',
    });
    const failFast = unionAuthenticatorsFailOnError(
      {
        authenticateRequest: async () => ({ ok: false }),
        authenticateRequestSync: () => ({ ok: false, error: new KdaError('ERR_KDA_BAD_HEADER', 'bad') }),
      },
      custom,
    );
    const r = failFast.authenticateRequestSync!(lines());
    expect(r).to.have.property('ok', false);
    expect((r as { error: KdaError }).error.message, 'the first error ends a fail-on-error union at once').to.equal(
      'bad',
    );
  });

  it('the group adder defers when its inner authenticator has no synchronous method, and adds the group when it answers', () => {
    expect(authenticatedGroupAdder(custom).authenticateRequestSync!(lines(['X-Custom', 'yes']))).to.equal(undefined);
    const r = authenticatedGroupAdder({
      authenticateRequest: async () => okUser('x'),
      authenticateRequestSync: () => okUser('x'),
    }).authenticateRequestSync!(lines());
    expect(r).to.deep.include({ ok: true });
    expect((r as unknown as { user: { groups: string[] } }).user.groups).to.deep.equal(['system:authenticated']);
  });

  it('a certificate authenticator whose check throws refuses with the cause on both paths, never accepts', async () => {
    const pki = testPki();
    const throwing = {
      name: 'exploding-ca',
      current: () => {
        throw new Error('bundle exploded');
      },
      addListener: () => () => {},
    } as unknown as ReturnType<typeof staticCABundle>;
    const authenticators: [string, RequestAuthenticator][] = [
      ['x509', x509Authenticator({ caProvider: throwing })],
      [
        'requestheader',
        secureRequestHeaderAuthenticator({ caProvider: throwing, configProvider: staticRequestHeaderConfig() }),
      ],
    ];
    for (const [name, a] of authenticators) {
      const req = viewOf([['X-Remote-User', 'bob']], [pki.alice.x509], {});
      const viaSync = a.authenticateRequestSync!(req)!;
      const viaAsync = await a.authenticateRequest(req);
      expect(observable(viaSync), name).to.deep.equal(observable(viaAsync));
      expect(viaSync.ok).to.equal(false);
      const error = (viaSync as { error: KdaError }).error;
      expect(error.message).to.equal('x509: client certificate cannot be verified: bundle exploded');
      expect(error.details).to.deep.equal({ authenticator: name, check: 'malformed', caName: 'exploding-ca' });
    }
  });

  it('a member whose synchronous method throws is not swallowed: the union and the group adder throw it', () => {
    const broken: RequestAuthenticator = {
      authenticateRequest: async () => okUser('never'),
      authenticateRequestSync: () => {
        throw new Error('sync bug');
      },
    };
    expect(() => unionAuthenticators(broken, custom).authenticateRequestSync!(lines())).to.throw('sync bug');
    expect(() => authenticatedGroupAdder(broken).authenticateRequestSync!(lines())).to.throw('sync bug');
    expect(() =>
      unionAuthenticatorsFailOnError(authenticatedGroupAdder(broken), anonymousAuthenticator())
        .authenticateRequestSync!(lines()),
    ).to.throw('sync bug');
  });
});
