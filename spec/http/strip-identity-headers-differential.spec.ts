// stripIdentityHeaders() (lib/http/request.ts) now memoizes its verdict per header name and configuration instead of
// normalizing and matching every name three times per request. This property compares it with the frozen old
// function (spec/http/legacy/strip-identity-headers.ts) over generated requests: identity headers in every spelling
// (case, `_` for `-`, the configured names and prefixes, Impersonate-*, look-alikes that must stay), WebSocket bearer
// subprotocols, consumed names, the standard or a custom front-proxy configuration, and `headers` objects a framework
// or middleware changed after parsing (keys in other case, keys missing from the raw headers). Same removed names in
// the same order and the same `headers`, `headersDistinct` and `rawHeaders` afterwards — on fresh configurations and
// on ones whose memo is already warm (or was cleared by more names than it holds).
import { expect } from 'chai';
import fc from 'fast-check';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { stripIdentityHeaders } from '../../lib/http/request.js';
import type { RequestHeaderConfig } from '../../lib/trust/interfaces.js';
import { fuzzParams, fuzzTimeout } from '../fuzz/runs.js';
import { legacyStripIdentityHeaders } from './legacy/strip-identity-headers.js';

const identityStems = [
  'authorization',
  'x-remote-user',
  'x-remote-uid',
  'x-remote-group',
  'x-remote-extra-',
  'impersonate-user',
  'impersonate-group',
  'impersonate-uid',
  'impersonate-extra-',
  'x-forwarded-user',
  'x-auth-',
  'sec-websocket-protocol',
  'x-remote-users',
  'x-remote',
  'host',
  'accept',
  'content-type',
];

/** A header name: an identity stem or look-alike in some spelling, or arbitrary token characters. */
const headerName = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...identityStems),
      fc.stringMatching(/^[a-z0-9%]{0,6}$/),
      fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
      fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
    )
    .map(([stem, suffix, upper, underscore]) =>
      [...(stem + suffix)]
        .map((ch, i) => (ch === '-' && underscore[i % 24] ? '_' : upper[i % 24] ? ch.toUpperCase() : ch))
        .join(''),
    ),
  fc.stringMatching(/^[A-Za-z0-9_!#$%&'*+.^`|~-]{1,12}$/),
  fc.constantFrom('constructor', '__proto__', 'toString', 'hasOwnProperty'),
);

const headerValue = fc.oneof(
  fc.stringMatching(/^[ -~]{0,12}$/),
  fc
    .array(
      fc.oneof(
        fc.constantFrom('chat', 'v1.kubernetes.io', 'base64url.bearer.authorization.k8s.io.dG9rZW4'),
        fc.constant('Base64url.Bearer.Authorization.K8s.io.eA'),
      ),
      { maxLength: 3 },
    )
    .map((p) => p.join(', ')),
);

const customConfig: RequestHeaderConfig = {
  usernameHeaders: ['X-Forwarded-User'],
  uidHeaders: ['X_Forwarded_Uid'],
  groupHeaders: ['X-Forwarded-Groups'],
  extraHeaderPrefixes: ['X-Auth-'],
  allowedNames: [],
};

/** A request as Node's parser leaves it: rawHeaders as sent, headers/headersDistinct by lower-case name. */
function parsedRequest(lines: readonly (readonly [string, string])[]): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.rawHeaders = lines.flatMap(([n, v]) => [n, v]);
  const headers: Record<string, string> = {};
  const distinct: Record<string, string[]> = {};
  for (const [n, v] of lines) {
    const k = n.toLowerCase();
    // Own properties only, as Node's parser (a header may be called `constructor` or `__proto__`).
    if (Object.hasOwn(headers, k)) headers[k] = `${headers[k]}, ${v}`;
    else Object.defineProperty(headers, k, { value: v, enumerable: true, writable: true, configurable: true });
    if (Object.hasOwn(distinct, k)) distinct[k]!.push(v);
    else Object.defineProperty(distinct, k, { value: [v], enumerable: true, writable: true, configurable: true });
  }
  req.headers = headers;
  req.headersDistinct = distinct;
  return req;
}

interface Outcome {
  readonly removed: string[];
  readonly headers: unknown;
  readonly distinct: unknown;
  readonly raw: string[];
}

function run(
  strip: typeof stripIdentityHeaders,
  lines: readonly (readonly [string, string])[],
  added: readonly (readonly [string, string])[],
  config: RequestHeaderConfig | undefined,
  consumed: readonly string[],
): Outcome {
  const req = parsedRequest(lines);
  for (const [n, v] of added) (req.headers as Record<string, string>)[n] = v;
  const removed = strip(req, config, consumed);
  return { removed, headers: { ...req.headers }, distinct: { ...req.headersDistinct }, raw: [...req.rawHeaders] };
}

describe('stripIdentityHeaders(): the memoized version against the frozen old one', function () {
  this.timeout(fuzzTimeout(600, 20));

  it('removes the same names from headers, headersDistinct and rawHeaders for every generated request', () => {
    let identityRemoved = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(headerName, headerValue), { maxLength: 12 }),
        fc.array(fc.tuple(headerName, headerValue), { maxLength: 3 }),
        fc.constantFrom<'none' | 'standard' | 'custom' | 'fresh'>('none', 'standard', 'custom', 'fresh'),
        fc.array(fc.oneof(headerName, fc.constant('')), { maxLength: 4 }),
        (lines, added, which, consumed) => {
          // 'fresh': a configuration object never seen before (its memo starts empty).
          const config =
            which === 'none'
              ? undefined
              : which === 'standard'
                ? standardConfig
                : which === 'custom'
                  ? customConfig
                  : { ...customConfig, extraHeaderPrefixes: ['X-Auth-', 'x_other-'] };
          const expected = run(legacyStripIdentityHeaders, lines, added, config, consumed);
          const actual = run(stripIdentityHeaders, lines, added, config, consumed);
          expect(actual).to.deep.equal(expected);
          if (expected.removed.length > 0) identityRemoved++;
        },
      ),
      fuzzParams(600),
    );
    // The property is about removals: most generated requests must have had something to remove.
    expect(identityRemoved).to.be.above(100);
  });

  it('gives the same answers after more distinct names than the memo holds', () => {
    const many = Array.from({ length: 5000 }, (_, i) => [`x-remote-extra-n${i}`, 'v'] as const);
    const lines = [...many, ['X_Remote_User', 'mallory'] as const, ['keep-me', 'yes'] as const];
    const expected = run(legacyStripIdentityHeaders, lines, [], standardConfig, []);
    const actual = run(stripIdentityHeaders, lines, [], standardConfig, []);
    expect(actual).to.deep.equal(expected);
    expect(actual.raw).to.deep.equal(['keep-me', 'yes']);
    // And once more, on the memo the first call filled and cleared.
    expect(run(stripIdentityHeaders, lines, [], standardConfig, [])).to.deep.equal(expected);
  });
});

const standardConfig: RequestHeaderConfig = {
  usernameHeaders: ['X-Remote-User'],
  uidHeaders: ['X-Remote-Uid'],
  groupHeaders: ['X-Remote-Group'],
  extraHeaderPrefixes: ['X-Remote-Extra-'],
  allowedNames: ['front-proxy-client'],
};
