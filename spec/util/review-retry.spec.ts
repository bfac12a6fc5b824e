import { mock } from 'node:test';
import { expect } from 'chai';
import { KubeApiError } from '../../lib/cluster/errors.js';
import { KdaError } from '../../lib/errors.js';
import { TransientError } from '../../lib/webhook/transient-error.js';
import { defaultShouldRetry, sleep, webhookError, withExponentialBackoff } from '../../lib/util/review-retry.js';

const netError = (code: string) => Object.assign(new Error(`read ${code}`), { code });
const kube = (fields: ConstructorParameters<typeof KubeApiError>[1]) => new KubeApiError('kube call failed', fields);

describe('util/review-retry', () => {
  describe('defaultShouldRetry (Go webhook.DefaultShouldRetry)', () => {
    const cases: readonly { name: string; err: unknown; retry: boolean }[] = [
      { name: 'connection reset (errno)', err: netError('ECONNRESET'), retry: true },
      {
        name: 'connection reset as cause',
        err: new Error('fetch failed', { cause: netError('ECONNRESET') }),
        retry: true,
      },
      { name: 'undici socket closed', err: netError('UND_ERR_SOCKET'), retry: true },
      { name: 'networkCode detail', err: webhookError('x', { networkCode: 'ECONNRESET' }), retry: true },
      { name: 'connection refused', err: netError('ECONNREFUSED'), retry: false },
      // Go's utilnet.IsConnectionReset matches ECONNRESET only; the old cluster/rest-client copy also retried EPIPE.
      { name: 'broken pipe (EPIPE, not a reset in Go)', err: netError('EPIPE'), retry: false },
      { name: '500 without reason', err: webhookError('x', { status: 500 }), retry: true },
      { name: 'reason InternalError', err: webhookError('x', { status: 500, reason: 'InternalError' }), retry: true },
      {
        name: '500 with a known other reason',
        err: webhookError('x', { status: 500, reason: 'Forbidden' }),
        retry: false,
      },
      { name: '504 without reason', err: webhookError('x', { status: 504 }), retry: true },
      { name: 'reason Timeout', err: webhookError('x', { reason: 'Timeout' }), retry: true },
      { name: '429', err: webhookError('x', { status: 429 }), retry: true },
      { name: 'reason TooManyRequests', err: webhookError('x', { reason: 'TooManyRequests' }), retry: true },
      {
        name: 'ServerTimeout with Status details (retryAfterSeconds 0)',
        err: webhookError('x', { status: 500, reason: 'ServerTimeout', retryAfterSeconds: 0 }),
        retry: true,
      },
      {
        name: 'ServerTimeout without Status details (Go SuggestsClientDelay needs details)',
        err: webhookError('x', { status: 500, reason: 'ServerTimeout' }),
        retry: false,
      },
      { name: '503 with Retry-After', err: webhookError('x', { status: 503, retryAfterSeconds: 1 }), retry: true },
      {
        name: '503 without Retry-After',
        err: webhookError('x', { status: 503, reason: 'ServiceUnavailable' }),
        retry: false,
      },
      { name: '401', err: webhookError('x', { status: 401, reason: 'Unauthorized' }), retry: false },
      { name: '403', err: webhookError('x', { status: 403, reason: 'Forbidden' }), retry: false },
      { name: '404', err: webhookError('x', { status: 404, reason: 'NotFound' }), retry: false },
      { name: 'our own timeout', err: webhookError('x', {}, { code: 'ERR_KDA_REVIEW_TIMEOUT' }), retry: false },
      { name: 'decode error', err: new SyntaxError('Unexpected token'), retry: false },
      // The same rules over the other members of the error family, read directly (no conversion step).
      { name: 'KubeApiError: connection reset', err: kube({ networkCode: 'ECONNRESET' }), retry: true },
      { name: 'KubeApiError: undici socket closed', err: kube({ networkCode: 'UND_ERR_SOCKET' }), retry: true },
      { name: 'KubeApiError: connection refused', err: kube({ networkCode: 'ECONNREFUSED' }), retry: false },
      { name: 'KubeApiError: our per-request timeout', err: kube({ networkCode: 'ETIMEDOUT' }), retry: false },
      { name: 'KubeApiError: decode error', err: kube({ statusCode: 200, networkCode: 'EDECODE' }), retry: false },
      { name: 'KubeApiError: 500 InternalError', err: kube({ statusCode: 500, reason: 'InternalError' }), retry: true },
      { name: 'KubeApiError: 504 Timeout', err: kube({ statusCode: 504, reason: 'Timeout' }), retry: true },
      { name: 'KubeApiError: 429', err: kube({ statusCode: 429, reason: 'TooManyRequests' }), retry: true },
      { name: 'KubeApiError: 403', err: kube({ statusCode: 403, reason: 'Forbidden' }), retry: false },
      { name: 'KubeApiError: 401', err: kube({ statusCode: 401, reason: 'Unauthorized' }), retry: false },
      {
        name: 'KubeApiError: 503 with a delay',
        err: kube({ statusCode: 503, reason: 'ServiceUnavailable', retryAfterSeconds: 1 }),
        retry: true,
      },
      {
        name: 'KubeApiError: ServerTimeout from a Status with details (retryAfterSeconds 0)',
        err: kube({ statusCode: 500, reason: 'ServerTimeout', retryAfterSeconds: 0 }),
        retry: true,
      },
      {
        name: 'KubeApiError: ServerTimeout from a Status without details',
        err: kube({ statusCode: 500, reason: 'ServerTimeout', status: { kind: 'Status' } }),
        retry: false,
      },
      {
        name: 'KubeApiError wrapped as the cause of another error (reset)',
        err: new Error('review failed', { cause: kube({ networkCode: 'ECONNRESET' }) }),
        retry: true,
      },
      { name: 'TransientError 503 (retry after ≥ 1 s)', err: new TransientError(0), retry: true },
      { name: 'TransientError 429', err: new TransientError(3, 'slow', { statusCode: 429 }), retry: true },
      { name: 'not an error', err: 'boom', retry: false },
    ];
    for (const c of cases)
      it(`${c.name} → ${c.retry ? 'retry' : 'no retry'}`, () => expect(defaultShouldRetry(c.err)).to.equal(c.retry));
  });

  describe('withExponentialBackoff (Go webhook.WithExponentialBackoff)', () => {
    function recorder() {
      const sleeps: number[] = [];
      return { sleeps, sleep: async (ms: number) => void sleeps.push(ms) };
    }

    it('sleeps 500, 750, 1125, 1687.5 ms without jitter and gives up after 5 calls with the last error', async () => {
      const r = recorder();
      let calls = 0;
      const err = await withExponentialBackoff(
        async () => {
          calls++;
          throw webhookError(`fail ${calls}`, { status: 500 });
        },
        defaultShouldRetry,
        { sleep: r.sleep, jitter: 0 },
      ).catch((e: unknown) => e);
      expect(calls).to.equal(5);
      expect(r.sleeps).to.deep.equal([500, 750, 1125, 1687.5]);
      expect((err as Error).message).to.equal('fail 5');
    });

    it('jitter adds up to 20% of each sleep', async () => {
      const r = recorder();
      await withExponentialBackoff(
        async () => {
          throw webhookError('x', { status: 429 });
        },
        defaultShouldRetry,
        { sleep: r.sleep, random: () => 0.5 },
      ).catch(() => undefined);
      expect(r.sleeps).to.deep.equal([550, 825, 1237.5, 1856.25]);
    });

    it('stops at the first success', async () => {
      const r = recorder();
      let calls = 0;
      const v = await withExponentialBackoff(
        async () => {
          if (++calls < 3) throw netError('ECONNRESET');
          return 'ok';
        },
        defaultShouldRetry,
        { sleep: r.sleep, jitter: 0 },
      );
      expect(v).to.equal('ok');
      expect(calls).to.equal(3);
      expect(r.sleeps).to.deep.equal([500, 750]);
    });

    it('does not retry a non-retryable error', async () => {
      const r = recorder();
      let calls = 0;
      const err = await withExponentialBackoff(
        async () => {
          calls++;
          throw webhookError('forbidden', { status: 403, reason: 'Forbidden' });
        },
        defaultShouldRetry,
        { sleep: r.sleep },
      ).catch((e: unknown) => e);
      expect(calls).to.equal(1);
      expect(r.sleeps).to.deep.equal([]);
      expect((err as KdaError).message).to.equal('forbidden');
    });

    it('aborted before the first call: webhook call failed: context canceled', async () => {
      const ac = new AbortController();
      ac.abort();
      const err = await withExponentialBackoff(async () => 1, defaultShouldRetry, { signal: ac.signal }).catch(
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(KdaError);
      expect((err as KdaError).message).to.equal('webhook call failed: context canceled');
    });

    it('aborted during a sleep: returns the last webhook error', async () => {
      const ac = new AbortController();
      let calls = 0;
      const err = await withExponentialBackoff(
        async () => {
          calls++;
          throw webhookError('first', { status: 500 });
        },
        defaultShouldRetry,
        {
          sleep: async () => {
            ac.abort();
            throw new Error('aborted');
          },
          signal: ac.signal,
        },
      ).catch((e: unknown) => e);
      expect(calls).to.equal(1);
      expect((err as Error).message).to.equal('first');
    });

    it('steps: 1 makes exactly one call', async () => {
      let calls = 0;
      await withExponentialBackoff(
        async () => {
          calls++;
          throw webhookError('x', { status: 500 });
        },
        defaultShouldRetry,
        { steps: 1, sleep: async () => undefined },
      ).catch(() => undefined);
      expect(calls).to.equal(1);
    });

    it('default sleep waits and rejects on abort', async () => {
      mock.timers.enable({ apis: ['setTimeout'] });
      try {
        const waited = sleep(1);
        mock.timers.tick(1);
        await waited;
      } finally {
        mock.timers.reset();
      }
      const ac = new AbortController();
      const p = sleep(60_000, ac.signal);
      ac.abort(new Error('stop'));
      const err = await p.catch((e: unknown) => e);
      expect((err as Error).message).to.equal('stop');
    });
  });
});
