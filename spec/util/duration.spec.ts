import { expect } from 'chai';
import { formatGoDuration, parseGoDuration } from '../../lib/util/duration.js';

describe('util/duration parseGoDuration (Go time.ParseDuration, in ms)', () => {
  const ok: readonly [string, number][] = [
    ['0', 0],
    ['10s', 10_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['-2s', -2000],
    ['+5s', 5000],
    ['1.s', 1000],
    ['.5s', 500],
    ['100us', 0.1],
    ['100µs', 0.1],
    ['1000000ns', 1],
    ['1h1m1s1ms', 3_661_001],
  ];
  for (const [s, ms] of ok) {
    it(`${s} → ${ms}`, () => expect(parseGoDuration(s)).to.be.closeTo(ms, 1e-9));
  }
  const bad: readonly [string, string][] = [
    ['', 'time: invalid duration ""'],
    ['10', 'time: missing unit in duration "10"'],
    ['s', 'time: invalid duration "s"'],
    ['.s', 'time: invalid duration ".s"'],
    ['10x', 'time: unknown unit "x" in duration "10x"'],
    ['1d', 'time: unknown unit "d" in duration "1d"'],
    ['-', 'time: invalid duration "-"'],
    ['1e3s', 'time: unknown unit "e" in duration "1e3s"'],
    ['3000000h', 'time: invalid duration "3000000h"'],
  ];
  for (const [s, message] of bad) {
    it(`rejects ${JSON.stringify(s)}`, () => {
      expect(() => parseGoDuration(s))
        .to.throw()
        .that.satisfies(
          (e: { code: string; message: string }) => e.code === 'ERR_KDA_INVALID_OPTION' && e.message === message,
        );
    });
  }
  it('formatGoDuration', () => {
    expect([0, 500, 10_000, 90_000, 5_400_000, 1500].map(formatGoDuration)).to.deep.equal([
      '0s',
      '500ms',
      '10s',
      '1m30s',
      '1h30m0s',
      '1.5s',
    ]);
  });
});
