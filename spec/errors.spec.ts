import { expect } from 'chai';
import { aggregateErrors, InvalidOptionError, KdaError } from '../lib/errors.js';
import type * as ErrorsModule from '../lib/errors.js';
import { KubeApiError } from '../lib/cluster/errors.js';
import type * as KubeErrorsModule from '../lib/cluster/errors.js';
import { TransientError } from '../lib/webhook/transient-error.js';
import type * as TransientModule from '../lib/webhook/transient-error.js';

describe('errors: instanceof per class (brand survives module copies)', () => {
  const kda = new KdaError('ERR_KDA_TRUST_UNAVAILABLE', 'unable to load x');
  const invalid = new InvalidOptionError(['a', 'b']);

  it('a plain KdaError is not an InvalidOptionError (the CLI crashed on err.problems)', () => {
    expect(kda instanceof KdaError).to.equal(true);
    expect(kda instanceof InvalidOptionError).to.equal(false);
    expect(invalid instanceof InvalidOptionError).to.equal(true);
    expect(invalid instanceof KdaError).to.equal(true);
    expect(invalid instanceof Error).to.equal(true);
  });

  it('an aggregate of option errors is a KdaError, not an InvalidOptionError', () => {
    const agg = aggregateErrors([kda, new KdaError('ERR_KDA_CLOSED', 'closed')]);
    expect(agg instanceof KdaError).to.equal(true);
    expect(agg instanceof InvalidOptionError).to.equal(false);
  });

  it("a user's subclass is checked by its prototype chain and is still a KdaError", () => {
    class MyError extends KdaError {}
    const mine = new MyError('ERR_KDA_CLOSED', 'mine');
    expect(mine instanceof MyError).to.equal(true);
    expect(mine instanceof KdaError).to.equal(true);
    expect(mine instanceof InvalidOptionError).to.equal(false);
    expect(kda instanceof MyError).to.equal(false);
  });

  it('non-errors and look-alikes are not KdaErrors', () => {
    for (const v of [undefined, null, 'ERR_KDA_INVALID_OPTION', 1, {}, new Error('x'), { problems: [] }]) {
      expect(v instanceof KdaError, String(v)).to.equal(false);
      expect(v instanceof InvalidOptionError, String(v)).to.equal(false);
    }
  });

  it('errors from another copy of the module answer instanceof per class too', async () => {
    // A second module instance, as with a dual ESM/CJS install or two versions of the package.
    const copy = (await import(`../lib/errors.js?copy=${Date.now()}`)) as typeof ErrorsModule;
    expect(copy.KdaError).to.not.equal(KdaError);
    expect(new copy.InvalidOptionError(['x']) instanceof InvalidOptionError).to.equal(true);
    expect(new copy.KdaError('ERR_KDA_CLOSED', 'x') instanceof KdaError).to.equal(true);
    expect(new copy.KdaError('ERR_KDA_CLOSED', 'x') instanceof InvalidOptionError).to.equal(false);
    expect(kda instanceof copy.InvalidOptionError).to.equal(false);
    expect(invalid instanceof copy.InvalidOptionError).to.equal(true);
  });
});

describe('errors: one family (KubeApiError and TransientError are KdaErrors with codes)', () => {
  it('KubeApiError is a KdaError with code ERR_KDA_KUBE_API and the retry facts in details', () => {
    const e = new KubeApiError('Get "https://x/y": HTTP 503', {
      statusCode: 503,
      reason: 'ServiceUnavailable',
      retryAfterSeconds: 2,
    });
    expect(e instanceof KdaError).to.equal(true);
    expect(e instanceof KubeApiError).to.equal(true);
    expect(e instanceof TransientError).to.equal(false);
    expect(e instanceof InvalidOptionError).to.equal(false);
    expect(e.code).to.equal('ERR_KDA_KUBE_API');
    expect(e.name).to.equal('KubeApiError');
    expect(e.details).to.deep.equal({ status: 503, reason: 'ServiceUnavailable', retryAfterSeconds: 2 });
  });

  it('TransientError is a KdaError with code ERR_KDA_TRANSIENT and what its 429/503 answer tells a client', () => {
    const e = new TransientError(2.2, 'slow down', { statusCode: 429 });
    expect(e instanceof KdaError).to.equal(true);
    expect(e instanceof TransientError).to.equal(true);
    expect(e instanceof KubeApiError).to.equal(false);
    expect(e.code).to.equal('ERR_KDA_TRANSIENT');
    expect(e.retryAfterS).to.equal(3);
    expect(e.details).to.deep.equal({ status: 429, reason: 'TooManyRequests', retryAfterSeconds: 3 });
    expect(new KdaError('ERR_KDA_TRANSIENT', 'look-alike') instanceof TransientError).to.equal(false);
  });

  it('both answer instanceof across copies of their modules', async () => {
    const t = (await import(`../lib/webhook/transient-error.js?copy=${Date.now()}`)) as typeof TransientModule;
    const k = (await import(`../lib/cluster/errors.js?copy=${Date.now()}`)) as typeof KubeErrorsModule;
    expect(t.TransientError).to.not.equal(TransientError);
    expect(new t.TransientError(1) instanceof TransientError).to.equal(true);
    expect(new t.TransientError(1) instanceof KdaError).to.equal(true);
    expect(new k.KubeApiError('x', {}) instanceof KubeApiError).to.equal(true);
    expect(new k.KubeApiError('x', {}) instanceof TransientError).to.equal(false);
  });
});
