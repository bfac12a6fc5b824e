// lib/authn/path-unescape against an independent reference of Go's url.PathUnescape (validate every `%`, then
// splice the escaped bytes), over adversarial alphabets and arbitrary Unicode.
import { expect } from 'chai';
import fc from 'fast-check';
import { pathUnescape, unescapeExtraKey } from '../../lib/authn/path-unescape.js';
import { fuzzParams, isWellFormed } from './runs.js';

/** Reference: Go rejects any `%` not followed by two hex digits; otherwise each %XX is one byte, `+` is literal. */
function referencePathUnescape(s: string): string | undefined {
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) return undefined;
  const pieces = s.split(/(%[0-9A-Fa-f]{2})/);
  const bytes = pieces.map((p) =>
    /^%[0-9A-Fa-f]{2}$/.test(p) ? Buffer.from([Number.parseInt(p.slice(1), 16)]) : Buffer.from(p, 'utf8'),
  );
  return Buffer.concat(bytes).toString('utf8');
}

const escapey = fc.string({
  unit: fc.constantFrom('%', '0', '7', 'a', 'F', 'f', 'g', 'Z', '+', '/', '.', '-', 'é', '\u0000', '2', 'e', 'C', '3'),
  maxLength: 24,
});
const anyText = fc.string({ unit: 'binary', maxLength: 24 }).filter(isWellFormed);
const input = fc.oneof(escapey, anyText);

describe('fuzz: extra-key decoding (Go url.PathUnescape, fast-check)', () => {
  it('pathUnescape equals the reference implementation', () => {
    fc.assert(
      fc.property(input, (s) => {
        expect(pathUnescape(s)).to.equal(referencePathUnescape(s));
      }),
      fuzzParams(2000),
    );
  });

  it('unescapeExtraKey never throws: decoded key, or the input unchanged when malformed', () => {
    fc.assert(
      fc.property(input, (s) => {
        const ref = referencePathUnescape(s);
        expect(unescapeExtraKey(s)).to.equal(ref ?? s);
      }),
      fuzzParams(2000),
    );
  });

  it('every byte string survives %XX-escaping of all its bytes (upper or lower hex)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), fc.boolean(), (bytes, upper) => {
        const hex = (b: number) => b.toString(16).padStart(2, '0');
        const escaped = [...bytes].map((b) => `%${upper ? hex(b).toUpperCase() : hex(b)}`).join('');
        expect(pathUnescape(escaped)).to.equal(Buffer.from(bytes).toString('utf8'));
      }),
      fuzzParams(1000),
    );
  });

  it('`+` is never turned into a space (path mode, unlike query mode)', () => {
    fc.assert(
      fc.property(input, (s) => {
        const out = pathUnescape(s);
        if (out !== undefined && !s.includes('%20') && !s.includes(' ')) expect(out).to.not.include(' ');
      }),
      fuzzParams(1000),
    );
  });
});
