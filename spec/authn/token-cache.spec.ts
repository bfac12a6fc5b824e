import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { AuthenticationResult, TokenAuthenticator } from '../../lib/authn/interfaces.js';
import { cachedTokenAuthenticator, tokenCacheKey } from '../../lib/authn/token-cache.js';
import { KdaError } from '../../lib/errors.js';

const okResult: AuthenticationResult = {
  ok: true,
  user: { name: 'alice', uid: '', groups: ['devs'], extra: {} },
  authenticator: 'tokenreview',
};
const notMine: AuthenticationResult = { ok: false };
const errored: AuthenticationResult = { ok: false, error: new KdaError('ERR_KDA_REVIEW_FAILED', 'apiserver down') };

/** The decorated authenticator: counts calls, answers from `answer`, optionally waits for `release()`. */
function countingInner(answer: (token: string) => AuthenticationResult | Promise<AuthenticationResult>) {
  const calls: { token: string; audiences: readonly string[] | undefined }[] = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const inner: TokenAuthenticator = {
    async authenticateToken(token, opts) {
      calls.push({ token, audiences: opts?.audiences });
      if (gate) await gate;
      return answer(token);
    },
  };
  return {
    inner,
    calls,
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release() {
      open?.();
      gate = undefined;
    },
  };
}

describe('authn/token-cache', () => {
  let now: number;
  const clock = { now: () => now };
  beforeEach(() => {
    now = 1_000_000;
  });

  interface TtlCase {
    readonly name: string;
    readonly result: AuthenticationResult;
    readonly advance: number;
    readonly expectCalls: number;
  }
  const ttlCases: readonly TtlCase[] = [
    { name: 'ok result cached within TTL', result: okResult, advance: 9_999, expectCalls: 1 },
    { name: 'ok result expires at TTL', result: okResult, advance: 10_000, expectCalls: 2 },
    { name: 'not-ok without error cached within TTL', result: notMine, advance: 9_999, expectCalls: 1 },
    { name: 'not-ok without error expires at TTL', result: notMine, advance: 10_000, expectCalls: 2 },
    { name: 'result with error never cached', result: errored, advance: 0, expectCalls: 2 },
  ];
  for (const c of ttlCases) {
    it(c.name, async () => {
      const f = countingInner(() => c.result);
      const cache = cachedTokenAuthenticator(f.inner, { clock });
      const first = await cache.authenticateToken('tok');
      now += c.advance;
      const second = await cache.authenticateToken('tok');
      expect(first).to.deep.equal(c.result);
      expect(second).to.deep.equal(c.result);
      expect(f.calls.length).to.equal(c.expectCalls);
    });
  }

  it('separate success and failure TTLs; authenticationTokenWebhookCacheTtl sets both', async () => {
    const f = countingInner((t) => (t === 'good' ? okResult : notMine));
    const cache = cachedTokenAuthenticator(f.inner, { clock, successTtl: 100, failureTtl: 50 });
    await cache.authenticateToken('good');
    await cache.authenticateToken('bad');
    now += 60;
    await cache.authenticateToken('good');
    await cache.authenticateToken('bad');
    expect(f.calls.map((c) => c.token)).to.deep.equal(['good', 'bad', 'bad']);

    const g = countingInner(() => okResult);
    const c2 = cachedTokenAuthenticator(g.inner, { clock, authenticationTokenWebhookCacheTtl: 5 });
    await c2.authenticateToken('x');
    now += 5;
    await c2.authenticateToken('x');
    expect(g.calls.length).to.equal(2);
  });

  it('TTL 0 disables caching', async () => {
    const f = countingInner(() => okResult);
    const cache = cachedTokenAuthenticator(f.inner, { clock, authenticationTokenWebhookCacheTtl: 0 });
    await cache.authenticateToken('x');
    await cache.authenticateToken('x');
    expect(f.calls.length).to.equal(2);
  });

  it('audiences are part of the key and are passed through', async () => {
    const f = countingInner(() => okResult);
    const cache = cachedTokenAuthenticator(f.inner, { clock });
    await cache.authenticateToken('x', { audiences: ['a'] });
    await cache.authenticateToken('x', { audiences: ['b'] });
    await cache.authenticateToken('x');
    await cache.authenticateToken('x', { audiences: ['a'] });
    expect(f.calls.map((c) => c.audiences)).to.deep.equal([['a'], ['b'], undefined]);
  });

  describe('hashed key', () => {
    const secret = randomBytes(32);
    it('is an HMAC: deterministic per secret, different under another secret', () => {
      expect(tokenCacheKey(secret, 'tok', [])).to.equal(tokenCacheKey(secret, 'tok', undefined));
      expect(tokenCacheKey(secret, 'tok', [])).not.to.equal(tokenCacheKey(randomBytes(32), 'tok', []));
    });
    it('never contains the token (raw, base64 or hex)', () => {
      const token = 'eyJhbGciOiJSUzI1NiJ9.payload.signature';
      const key = tokenCacheKey(secret, token, ['api']);
      for (const form of [token, Buffer.from(token).toString('base64'), Buffer.from(token).toString('hex')]) {
        expect(key).not.to.contain(form);
      }
      expect(Buffer.from(key, 'base64').length).to.equal(32);
    });
    it('audience boundaries cannot collide', () => {
      expect(tokenCacheKey(secret, 'c', ['a', 'b'])).not.to.equal(tokenCacheKey(secret, 'c', ['ab']));
      expect(tokenCacheKey(secret, 'bc', ['a'])).not.to.equal(tokenCacheKey(secret, 'c', ['ab']));
    });
  });

  it('is bounded: the least recently used entry is evicted', async () => {
    const f = countingInner(() => okResult);
    const cache = cachedTokenAuthenticator(f.inner, { clock, maxEntries: 2 });
    await cache.authenticateToken('a');
    await cache.authenticateToken('b');
    await cache.authenticateToken('a'); // a is now most recent
    await cache.authenticateToken('c'); // evicts b
    expect(cache.stats().size).to.equal(2);
    await cache.authenticateToken('a');
    await cache.authenticateToken('b');
    expect(f.calls.map((c) => c.token)).to.deep.equal(['a', 'b', 'c', 'b']);
  });

  it('single-flight: 100 concurrent lookups of one token make 1 review', async () => {
    const f = countingInner(() => okResult);
    const cache = cachedTokenAuthenticator(f.inner, { clock });
    f.hold();
    const all = Array.from({ length: 100 }, () => cache.authenticateToken('same'));
    await new Promise((r) => setImmediate(r));
    expect(cache.stats()).to.include({ inFlight: 1, blocked: 99, misses: 100 });
    f.release();
    const results = await Promise.all(all);
    expect(f.calls.length).to.equal(1);
    expect(results.every((r) => r.ok)).to.equal(true);
    expect(cache.stats()).to.deep.equal({
      hits: 0,
      misses: 100,
      fetchOk: 1,
      fetchError: 0,
      inFlight: 0,
      blocked: 0,
      size: 1,
    });
    await cache.authenticateToken('same');
    expect(cache.stats().hits).to.equal(1);
  });

  it('single-flight also coalesces a failing lookup, which is then not cached', async () => {
    const f = countingInner(() => errored);
    const cache = cachedTokenAuthenticator(f.inner, { clock });
    f.hold();
    const all = Array.from({ length: 10 }, () => cache.authenticateToken('x'));
    await new Promise((r) => setImmediate(r));
    f.release();
    const results = await Promise.all(all);
    expect(results.every((r) => !r.ok && r.error?.message === 'apiserver down')).to.equal(true);
    expect(f.calls.length).to.equal(1);
    expect(cache.stats()).to.include({ fetchError: 1, fetchOk: 0, size: 0 });
    await cache.authenticateToken('x');
    expect(f.calls.length).to.equal(2);
  });

  it("one caller's abort ends only its own wait; the shared lookup completes for the others", async () => {
    const f = countingInner(() => okResult);
    const cache = cachedTokenAuthenticator(f.inner, { clock });
    f.hold();
    const ac = new AbortController();
    const impatient = cache.authenticateToken('x', { signal: ac.signal });
    const patient = cache.authenticateToken('x');
    ac.abort();
    const r1 = await impatient;
    expect(r1.ok).to.equal(false);
    expect(!r1.ok && r1.error?.code).to.equal('ERR_KDA_REVIEW_TIMEOUT');
    f.release();
    expect((await patient).ok).to.equal(true);
    expect(f.calls.length).to.equal(1);
  });

  it('an inner authenticator that throws: "authentication failed unexpectedly", not cached', async () => {
    const f = countingInner(() => {
      throw new Error('bug');
    });
    const cache = cachedTokenAuthenticator(f.inner, { clock });
    const r = await cache.authenticateToken('x');
    expect(r.ok).to.equal(false);
    expect(!r.ok && r.error?.message).to.equal('authentication failed unexpectedly');
    await cache.authenticateToken('x');
    expect(f.calls.length).to.equal(2);
  });

  it('invalid options are reported together at construction', () => {
    const f = countingInner(() => okResult);
    expect(() => cachedTokenAuthenticator(f.inner, { successTtl: -1, maxEntries: 0 }))
      .to.throw(KdaError)
      .with.property('message')
      .that.matches(/"successTtl".*; "maxEntries"/);
  });
});
