import { expect } from 'chai';
import { parseGeneralizedTime, parseUtcTime } from '../../lib/trust/asn1-time.js';

describe('UTCTime and GeneralizedTime as cryptobyte reads them', () => {
  const utc: readonly [string, number | undefined][] = [
    ['250102030405Z', Date.UTC(2025, 0, 2, 3, 4, 5)],
    ['2501020304Z', Date.UTC(2025, 0, 2, 3, 4)],
    ['491231235959Z', Date.UTC(2049, 11, 31, 23, 59, 59)],
    ['500101000000Z', Date.UTC(1950, 0, 1)],
    ['250102030405+0100', Date.UTC(2025, 0, 2, 2, 4, 5)],
    ['250102030405-2400', Date.UTC(2025, 0, 3, 3, 4, 5)],
    ['250102030405+0000', undefined],
    ['250102030405+2460', undefined],
    ['250102030405+2500', undefined],
    ['250102030405z', undefined],
    ['250102030405', undefined],
    ['250102030405.1Z', undefined],
    ['240229000000Z', Date.UTC(2024, 1, 29)],
    ['250229000000Z', undefined],
    ['250102240000Z', undefined],
    ['250102236000Z', undefined],
    ['250102235960Z', undefined],
    ['2501020304 5Z', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of utc) {
    it(`UTCTime ${JSON.stringify(text)} → ${expected === undefined ? 'malformed' : new Date(expected).toISOString()}`, () =>
      expect(parseUtcTime(text)).to.equal(expected));
  }
  const generalized: readonly [string, number | undefined][] = [
    ['20250102030405Z', Date.UTC(2025, 0, 2, 3, 4, 5)],
    ['99991231235959Z', Date.UTC(9999, 11, 31, 23, 59, 59)],
    ['20250102030405-0130', Date.UTC(2025, 0, 2, 4, 34, 5)],
    ['20250102030405.5Z', undefined],
    ['202501020304Z', undefined],
    ['20250102030405', undefined],
    ['20250132030405Z', undefined],
  ];
  for (const [text, expected] of generalized) {
    it(`GeneralizedTime ${JSON.stringify(text)} → ${expected === undefined ? 'malformed' : new Date(expected).toISOString()}`, () =>
      expect(parseGeneralizedTime(text)).to.equal(expected));
  }
  it('year 0000 is year 0, not 1900 (Date.UTC would shift it)', () => {
    const t = parseGeneralizedTime('00000101000000Z')!;
    expect(new Date(t).getUTCFullYear()).to.equal(0);
  });
});
