import { expect } from 'chai';
import { runCases } from '../../conformance/run.js';
import { SkipCase, type ConformanceCase, type ConformanceContext } from '../../conformance/types.js';

// runCases only reads `capabilities` and `mode` itself; the cases here do not touch the rest.
const ctx = (caps: ConformanceContext['capabilities']) =>
  ({ mode: 'cluster', capabilities: caps }) as unknown as ConformanceContext;

const ok = (name: string, extra: Partial<ConformanceCase> = {}): ConformanceCase => ({
  name,
  run: async () => 'fine',
  ...extra,
});

describe('conformance runCases', () => {
  it('runs cases in order and records pass details', async () => {
    const order: string[] = [];
    const results = await runCases(ctx(new Set()), [
      ok('a', { run: async () => void order.push('a') }),
      ok('b', { run: async () => (order.push('b'), 'detail b') }),
    ]);
    expect(order).to.deep.equal(['a', 'b']);
    expect(results.map((r) => [r.name, r.outcome, r.detail])).to.deep.equal([
      ['a', 'passed', undefined],
      ['b', 'passed', 'detail b'],
    ]);
  });

  it('a failed setup case skips every later case, naming it', async () => {
    const results = await runCases(ctx(new Set()), [
      ok('setup', { setup: true, run: async () => Promise.reject(new Error('no server')) }),
      ok('later'),
    ]);
    expect(results[0]).to.include({ outcome: 'failed' });
    expect(results[0]!.error).to.match(/^Error: no server/);
    expect(results[1]).to.include({ outcome: 'skipped', detail: 'setup case failed: setup' });
  });

  it('a failed ordinary case does not skip the rest', async () => {
    const results = await runCases(ctx(new Set()), [
      ok('x', { run: async () => Promise.reject(new Error('boom')) }),
      ok('y'),
    ]);
    expect(results.map((r) => r.outcome)).to.deep.equal(['failed', 'passed']);
  });

  it('a missing capability is a skip with the mode and the reason, and the case does not run', async () => {
    let ran = false;
    const results = await runCases(ctx(new Set(['auditLog'])), [
      ok('restart', {
        requires: ['restartApiServer'],
        skipReason: 'cannot restart kube-apiserver',
        run: async () => void (ran = true),
      }),
      ok('audit', { requires: ['auditLog'] }),
    ]);
    expect(ran).to.equal(false);
    expect(results[0]).to.include({ outcome: 'skipped', detail: 'cluster mode: cannot restart kube-apiserver' });
    expect(results[1]).to.include({ outcome: 'passed' });
  });

  it('SkipCase thrown by a case is a skip with its message, never a pass', async () => {
    const results = await runCases(ctx(new Set()), [
      ok('s', { run: async () => Promise.reject(new SkipCase('not here')) }),
    ]);
    expect(results[0]).to.include({ outcome: 'skipped', detail: 'not here' });
  });

  it('reports each result as it finishes', async () => {
    const seen: string[] = [];
    await runCases(ctx(new Set()), [ok('a'), ok('b')], (r) => seen.push(r.name));
    expect(seen).to.deep.equal(['a', 'b']);
  });
});
