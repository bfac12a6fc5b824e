// Model-based header fuzzing over real TLS: random identity-header sets (odd spellings, duplicates, empty lines,
// Impersonate-*, Authorization variants) sent by random callers through the full Koa stack. The answer must match a
// small reference model of Go's union (requestheader → x509 → bearer → anonymous), no identity header may reach the
// handler, a refusal is always the generic 401, and nothing answers 5xx.
import { expect } from 'chai';
import fc from 'fast-check';
import { request, type Agent } from 'undici';
import { unescapeExtraKey } from '../../lib/authn/path-unescape.js';
import { unauthorizedBody } from '../../lib/http/status.js';
import { resolveRequestInfo } from '../../lib/http/request-info.js';
import { checkRequestTarget } from '../../lib/http/request-target.js';
import { internalError } from '../../lib/http/status.js';
import { testPki } from '../support/pki.js';
import { goodToken, identityHeaderPattern, startSecurityStack, type SecurityStack } from '../security/stack.js';
import { fuzzParams, fuzzTimeout, isWellFormed } from './runs.js';

type Caller = 'none' | 'proxy' | 'alice' | 'badProxy';

interface Expected {
  readonly status: 200 | 401;
  readonly name?: string;
  readonly authenticator?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

const ows = /^[ \t]+|[ \t]+$/g;
const trim = (v: string) => v.replace(ows, '');

/** Go's bearer-token authenticator on the first Authorization line: undefined = no opinion. */
function tokenModel(lines: readonly [string, string][]): 'ok' | 'rejected' | undefined {
  const first = lines.find(([n]) => n.toLowerCase() === 'authorization');
  if (!first) return undefined;
  const auth = trim(first[1]).trim();
  if (auth === '') return undefined;
  const idx1 = auth.indexOf(' ');
  if (idx1 < 0) return undefined;
  const scheme = auth.slice(0, idx1);
  const rest = auth.slice(idx1 + 1);
  const token = rest.split(' ', 1)[0]!;
  if (scheme.toLowerCase() !== 'bearer' || token === '') return undefined;
  return token === goodToken ? 'ok' : 'rejected';
}

function withAuthenticatedGroup(name: string, groups: string[]): string[] {
  if (name === 'system:anonymous') return groups;
  if (groups.includes('system:authenticated') || groups.includes('system:unauthenticated')) return groups;
  return [...groups, 'system:authenticated'];
}

function model(caller: Caller, lines: readonly [string, string][]): Expected {
  const token = tokenModel(lines);
  const tokenUser: Expected = {
    status: 200,
    name: 'token-user',
    authenticator: 'tokenreview',
    groups: ['token-group', 'system:authenticated'],
  };
  if (caller === 'alice') {
    return {
      status: 200,
      name: 'alice',
      authenticator: 'x509',
      groups: ['developers', 'system:masters', 'system:authenticated'],
    };
  }
  if (caller === 'proxy') {
    const users = lines.filter(([n]) => n.toLowerCase() === 'x-remote-user').map(([, v]) => trim(v));
    if (users.length > 0 && users[0] !== '') {
      const groups = lines
        .filter(([n]) => n.toLowerCase() === 'x-remote-group')
        .map(([, v]) => trim(v))
        .filter((v) => v !== '');
      const extra: Record<string, string[]> = {};
      for (const [n, v] of lines) {
        const lower = n.toLowerCase();
        if (!lower.startsWith('x-remote-extra-')) continue;
        const key = unescapeExtraKey(lower.slice('x-remote-extra-'.length));
        (extra[key] ??= []).push(trim(v));
      }
      return {
        status: 200,
        name: users[0]!,
        authenticator: 'requestheader',
        groups: withAuthenticatedGroup(users[0]!, groups),
        extra,
      };
    }
  }
  if (token === 'ok') return tokenUser;
  if (token === 'rejected') return { status: 401 };
  if (caller === 'none') {
    return { status: 200, name: 'system:anonymous', authenticator: 'anonymous', groups: ['system:unauthenticated'] };
  }
  // proxy without a username (x509 then errors: not a client-CA cert) or a refused proxy certificate.
  return { status: 401 };
}

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 12,
});
const value = fc.oneof(
  fc.constantFrom(
    'bob',
    'mallory',
    '',
    '  padded  ',
    'system:anonymous',
    'system:authenticated',
    'system:unauthenticated',
    'a, b',
  ),
  printable,
);
const randomCase = (s: string) =>
  fc
    .array(fc.boolean(), { minLength: s.length, maxLength: s.length })
    .map((flips) => [...s].map((c, i) => (flips[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
const extraSuffix = fc.constantFrom('scopes', 'a%2Fb', 'a%2fb', '..', '%00', 'bad%zz', '', 'x%25y');
const identityName = fc.oneof(
  randomCase('x-remote-user'),
  randomCase('x-remote-group'),
  randomCase('x-remote-uid'),
  extraSuffix.chain((s) => randomCase('x-remote-extra-').map((p) => p + s)),
  fc.constantFrom('Impersonate-User', 'impersonate-group', 'Impersonate-Extra-Scopes', 'Impersonate-Uid'),
  fc.stringMatching(/^x-[a-z]{1,8}$/),
);
const authorization = fc
  .tuple(
    fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Token', ''),
    fc.constantFrom(' ', '  '),
    fc.constantFrom(goodToken, 'forged', ''),
    fc.constantFrom('', ' trailing', '  '),
  )
  .map(([s, sep, t, rest]) => `${s}${sep}${t}${rest}`);
const headerLine: fc.Arbitrary<[string, string]> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(identityName, value) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('Authorization'), authorization) },
);
const caller = fc.constantFrom<Caller>('none', 'proxy', 'proxy', 'alice', 'badProxy');

describe('fuzz: identity headers over real TLS (model-based, fast-check)', function () {
  const pki = testPki();
  let stack: SecurityStack;
  let agents: Record<Caller, Agent>;

  before(async () => {
    stack = await startSecurityStack();
    agents = {
      none: stack.agent(),
      proxy: stack.agent(pki.proxy),
      alice: stack.agent(pki.alice),
      badProxy: stack.agent(pki.proxyOtherCN),
    };
  });
  after(async () => {
    await stack?.close();
  });

  const runs = 200;
  it('the answer matches the Go model; no identity header reaches the handler; refusals are the generic 401', async function () {
    this.timeout(fuzzTimeout(runs, 100));
    await fc.assert(
      fc.asyncProperty(caller, fc.array(headerLine, { maxLength: 8 }), async (who, lines) => {
        const before = stack.seen.length;
        const authorizedBefore = stack.authorized.length;
        const res = await request(`${stack.url}/apis/wardle.example.com/v1alpha1/namespaces/ns/flunders/f`, {
          dispatcher: agents[who],
          headers: lines.flat(),
        });
        const body = await res.body.text();
        const want = model(who, lines);
        expect(res.statusCode, body).to.equal(want.status);
        if (want.status === 401) {
          expect(body).to.equal(unauthorizedBody);
          expect(stack.seen.length, 'a refusal never reaches the handler').to.equal(before);
          expect(stack.authorized.length, 'a refusal is never authorized').to.equal(authorizedBefore);
          return;
        }
        const seen = stack.seen.at(-1)!;
        expect(seen.user.name).to.equal(want.name);
        expect(seen.authenticator).to.equal(want.authenticator);
        expect(seen.user.groups).to.deep.equal(want.groups);
        if (want.extra) {
          const sorted = (e: Readonly<Record<string, readonly string[]>>) =>
            Object.fromEntries(Object.entries(e).map(([k, v]) => [k, [...v].sort()]));
          expect(sorted(seen.user.extra)).to.deep.equal(sorted(want.extra));
        }
        expect(stack.authorized.at(-1)!.user).to.deep.equal(seen.user);
        const leaked = seen.headerNames.filter((n) => identityHeaderPattern.test(n) && !n.startsWith('impersonate-'));
        expect(leaked).to.deep.equal([]);
      }),
      fuzzParams(runs, { endOnFailure: true }),
    );
  });

  // client-go's headerKeyEscape: every byte that is not an RFC 7230 token character, and `%`, becomes %XX.
  const tchar = /^[!#$&'*+\-.^_`|~0-9A-Za-z]$/;
  const headerKeyEscape = (key: string) =>
    [...Buffer.from(key, 'utf8')]
      .map((b) => {
        const c = String.fromCharCode(b);
        return b < 0x80 && tchar.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
      })
      .join('');

  it('any extra key the aggregator escapes arrives decoded (ASCII letters lower-cased), values in order', async function () {
    this.timeout(fuzzTimeout(runs, 100));
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 16 }).filter(isWellFormed),
        fc.array(printable.map(trim), { minLength: 1, maxLength: 3 }),
        async (key, values) => {
          const name = `X-Remote-Extra-${headerKeyEscape(key)}`;
          const res = await request(`${stack.url}/healthz`, {
            dispatcher: agents.proxy,
            headers: ['X-Remote-User', 'bob', ...values.flatMap((v) => [name, v])],
          });
          await res.body.text();
          expect(res.statusCode).to.equal(200);
          const seen = stack.seen.at(-1)!;
          const expectedKey = key.replace(/[A-Z]/g, (c) => c.toLowerCase());
          expect(seen.user.extra).to.deep.equal({ [expectedKey]: values });
        },
      ),
      fuzzParams(runs, { endOnFailure: true }),
    );
  });

  const segment = fc.oneof(
    fc.constantFrom('api', 'apis', 'v1', 'wardle.example.com', 'v1alpha1', 'namespaces', 'ns', 'watch', 'proxy'),
    fc.constantFrom('status', 'finalize', 'flunders', '', '.', '..', '%2F', '%zz', '%', '%41', 'a%2e', '%C3%A9'),
    fc.stringMatching(/^[a-z0-9-]{1,6}$/),
  );
  const query = fc.constantFrom('', '?watch=1', '?watch=false', '?limit=x', '?labelSelector=a%20in', '?a=%zz');
  const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS');

  // Each 400 closes its connection (a new TLS handshake follows), so this property runs fewer cases.
  const pathRuns = 100;
  it('any path: 5xx only where Go answers 500 (RequestInfo error, exact body); 400 only for a malformed escape or a target lib/http/request-target refuses', async function () {
    this.timeout(fuzzTimeout(pathRuns, 150));
    await fc.assert(
      fc.asyncProperty(method, fc.array(segment, { maxLength: 7 }), query, async (m, parts, q) => {
        const uri = `/${parts.join('/')}${q}`;
        const before = stack.seen.length;
        // dispatcher.request sends the path verbatim (request(url) would normalise `..` through WHATWG URL).
        const res = await agents.none.request({
          origin: stack.url,
          path: uri,
          method: m as 'GET',
          headers: ['X-Remote-User', 'mallory'],
        });
        const body = await res.body.text();
        const resolved = resolveRequestInfo(m, uri);
        const target = checkRequestTarget(uri);
        if (!target.ok) {
          // Frameworks could route it differently from what would be authorized: 400 before authentication.
          expect(res.statusCode, body).to.equal(400);
          expect(stack.seen.length).to.equal(before);
        } else if (resolved.ok) {
          expect(res.statusCode, body).to.equal(200);
          expect(stack.seen.length).to.equal(before + 1);
          const seen = stack.seen.at(-1)!;
          expect(seen.user.name).to.equal('system:anonymous');
        } else if (resolved.error.details.status === 400) {
          expect(res.statusCode).to.equal(400);
          expect(stack.seen.length).to.equal(before);
        } else {
          expect(res.statusCode).to.equal(500);
          if (m !== 'HEAD') {
            expect(body).to.equal(internalError(uri, `failed to create RequestInfo: ${resolved.error.message}`).body);
          }
        }
      }),
      fuzzParams(pathRuns, { endOnFailure: true }),
    );
  });

  // Byte-level: header blocks written straight onto a TLS socket (any byte in values, odd names, stray CR/LF/NUL),
  // where undici would refuse to send them. Whatever Node's parser makes of them, the answer is one of 200/400/401
  // /431, a 200 carries exactly Go's reading of the first X-Remote-User line, and no identity header gets through.
  const byteValue = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.uint8Array({ maxLength: 10 }).map((b) => b.map((x) => (x === 10 || x === 13 ? 0x78 : x))),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        Uint8Array.from([0x62, 0x0d, 0x62]),
        Uint8Array.from([0x62, 0x0a, 0x62]),
        Uint8Array.from([0x00]),
      ),
    },
  );
  const byteName = fc.oneof(
    randomCase('x-remote-user'),
    randomCase('x-remote-group'),
    extraSuffix.map((x) => `X-Remote-Extra-${x}`),
    fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,10}$/),
    fc.constantFrom('X-Remote-User ', ' X-Remote-User', 'X-Remote-User\t', 'X Remote User', 'X-Remote-User\u0000'),
  );
  const rawRuns = 100;
  it("raw header bytes: only 200/400/401/431, a 200 is Go's reading of the first X-Remote-User line, nothing leaks", async function () {
    this.timeout(fuzzTimeout(rawRuns, 150));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<'none' | 'proxy'>('none', 'proxy'),
        fc.array(fc.tuple(byteName, byteValue), { maxLength: 6 }),
        async (who, lines) => {
          const before = stack.seen.length;
          const head = Buffer.from('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n', 'latin1');
          const body = lines.map(([n, v]) =>
            Buffer.concat([Buffer.from(`${n}: `, 'latin1'), Buffer.from(v), Buffer.from('\r\n', 'latin1')]),
          );
          const out = await stack.raw(
            Buffer.concat([head, ...body, Buffer.from('\r\n')]),
            who === 'proxy' ? pki.proxy : undefined,
          );
          const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0);
          expect([200, 400, 401, 431], out.slice(0, 200)).to.include(status);
          if (status !== 200) {
            expect(stack.seen.length).to.equal(before);
            return;
          }
          const seen = stack.seen.at(-1)!;
          const leaked = seen.headerNames.filter((n) => identityHeaderPattern.test(n));
          expect(leaked).to.deep.equal([]);
          if (who === 'none') {
            expect(seen.user.name).to.equal('system:anonymous');
            return;
          }
          // The parser accepted the block: names are tokens, so the lines it kept are the ones we wrote.
          const first = lines.find(([n]) => n.toLowerCase() === 'x-remote-user');
          expect(first, 'a 200 through the proxy needs a username').to.not.equal(undefined);
          const trimmed = Buffer.from(first![1])
            .toString('latin1')
            .replace(/^[ \t]+|[ \t]+$/g, '');
          expect(seen.user.name).to.equal(Buffer.from(trimmed, 'latin1').toString('utf8'));
          expect(seen.authenticator).to.equal('requestheader');
        },
      ),
      fuzzParams(rawRuns, { endOnFailure: true }),
    );
  });
});
