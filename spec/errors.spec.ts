import { expect } from 'chai';
import { aggregateErrors, InvalidOptionError, KdaError } from '../lib/errors.js';
import type * as ErrorsModule from '../lib/errors.js';

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
