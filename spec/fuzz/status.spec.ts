// goQuote (Go strconv.Quote) and the Status bodies built with it: a Go-side reader (strconv.Unquote, encoding/json)
// must recover exactly what was quoted, for any user name, path or URI.
import { expect } from 'chai';
import fc from 'fast-check';
import type { RequestAttributes } from '../../lib/authz/interfaces.js';
import { goQuote, htmlEscape } from '../../lib/util/go-quote.js';
import { forbidden, internalError, unauthorized, unauthorizedBody } from '../../lib/http/status.js';
import { fuzzParams, isWellFormed } from './runs.js';

/** Go's strconv.Unquote for double-quoted strings (independent reference), undefined when not a valid literal. */
function goUnquote(q: string): string | undefined {
  if (q.length < 2 || q[0] !== '"' || q.at(-1) !== '"') return undefined;
  const s = q.slice(1, -1);
  let out = '';
  for (let i = 0; i < s.length;) {
    const c = s[i]!;
    if (c === '"' || c === '\n') return undefined;
    if (c !== '\\') {
      const cp = s.codePointAt(i)!;
      out += String.fromCodePoint(cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = s[i + 1];
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
      '"': '"',
    };
    if (e !== undefined && simple[e] !== undefined) {
      out += simple[e];
      i += 2;
      continue;
    }
    const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (width === 0) return undefined;
    const hex = s.slice(i + 2, i + 2 + width);
    if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) return undefined;
    out += String.fromCodePoint(Number.parseInt(hex, 16));
    i += 2 + width;
  }
  return out;
}

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }).filter(isWellFormed),
  fc.string({
    unit: fc.constantFrom('"', '\\', '<', '>', '&', '\n', '\u0000', '\u007f', '\u2028', 'é', '\u{1F600}', 'a'),
    maxLength: 12,
  }),
);

const user = (name: string): RequestAttributes['user'] => ({ name, uid: '', groups: [], extra: {} });

describe('fuzz: goQuote and Status bodies (fast-check)', () => {
  it('strconv.Unquote(goQuote(s)) === s for every well-formed string; the quote is one line of ASCII-safe text', () => {
    fc.assert(
      fc.property(text, (s) => {
        const q = goQuote(s);
        expect(goUnquote(q)).to.equal(s);
        // eslint-disable-next-line no-control-regex
        expect(q).to.not.match(/[\u0000-\u001f\u007f]/);
      }),
      fuzzParams(2000),
    );
  });

  it('403 body: JSON-parseable Status, code 403, message carries the quoted (HTML-escaped) user', () => {
    fc.assert(
      fc.property(
        text,
        text,
        fc.boolean(),
        fc.constantFrom('', 'apps'),
        text,
        text,
        (name, reason, resourceRequest, apiGroup, resourceOrPath, ns) => {
          const attrs: RequestAttributes = {
            user: user(name),
            verb: 'get',
            resourceRequest,
            path: `/${resourceOrPath}`,
            apiGroup: resourceRequest ? apiGroup : '',
            apiVersion: 'v1',
            namespace: resourceRequest ? ns : '',
            resource: resourceRequest ? resourceOrPath : '',
            subresource: '',
            name: '',
          };
          const res = forbidden(attrs, reason);
          expect(res.status).to.equal(403);
          expect(res.body.endsWith('\n')).to.equal(true);
          const body = JSON.parse(res.body) as { kind: string; code: number; reason: string; message: string };
          expect(body.kind).to.equal('Status');
          expect(body.code).to.equal(403);
          expect(body.reason).to.equal('Forbidden');
          expect(body.message).to.include(`User ${htmlEscape(goQuote(name))} cannot get`);
          // Go's encoder is HTML-safe: no raw <, >, & in the bytes.
          expect(res.body).to.not.match(/[<>&\u2028\u2029]/);
        },
      ),
      fuzzParams(1000),
    );
  });

  it('500 body: text/plain, the quoted URI then the error, HTML-escaped, one trailing newline', () => {
    fc.assert(
      fc.property(text, text, (uri, err) => {
        const res = internalError(uri, err);
        expect(res.status).to.equal(500);
        expect(res.headers['content-type']).to.equal('text/plain; charset=utf-8');
        expect(res.body).to.equal(htmlEscape(`Internal Server Error: ${goQuote(uri)}: ${err}`) + '\n');
        expect(res.body.slice(0, -1)).to.not.match(/[<>]/);
      }),
      fuzzParams(1000),
    );
  });

  it('401 never carries a user: the body is the constant Status whatever happened', () => {
    const res = unauthorized();
    expect(res.body).to.equal(unauthorizedBody);
    expect(JSON.parse(res.body)).to.deep.equal({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
  });
});
