import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { tokenAuthenticatorFunc } from '../../lib/authn/interfaces.js';
import {
  isWebSocketRequest,
  parseProtocolToken,
  websocketProtocolAuthenticator,
} from '../../lib/authn/websocket-protocol.js';
import { fakeRequest } from '../support/authn-request.js';
import { goodToken, startSecurityStack, type SecurityStack } from '../security/stack.js';

const enc = (s: string) => 'base64url.bearer.authorization.k8s.io.' + Buffer.from(s).toString('base64url');
const upgrade = [
  ['Connection', 'keep-alive, Upgrade'],
  ['Upgrade', 'websocket'],
] as const;

describe('parseProtocolToken (Go websocket ProtocolAuthenticator)', () => {
  const cases: readonly { name: string; lines: string[]; expected: ReturnType<typeof parseProtocolToken> }[] = [
    { name: 'no protocols', lines: [], expected: { kind: 'none' } },
    { name: 'no token protocol', lines: ['v4.channel.k8s.io'], expected: { kind: 'none' } },
    {
      name: 'token with another protocol',
      lines: [`${enc('tok')}, v4.channel.k8s.io`],
      expected: { kind: 'token', token: 'tok' },
    },
    {
      name: 'token and protocol on separate lines',
      lines: [enc('tok'), 'v4.channel.k8s.io'],
      expected: { kind: 'token', token: 'tok' },
    },
    { name: 'token only', lines: [enc('tok')], expected: { kind: 'error', message: 'missing additional subprotocol' } },
    {
      name: 'two tokens',
      lines: [`${enc('a')},${enc('b')},x`],
      expected: { kind: 'error', message: 'multiple base64.bearer.authorization tokens specified' },
    },
    {
      name: 'padding is invalid encoding',
      lines: ['base64url.bearer.authorization.k8s.io.dG9r==,x'],
      expected: { kind: 'error', message: 'invalid base64.bearer.authorization token encoding' },
    },
    {
      name: 'standard alphabet is invalid encoding',
      lines: ['base64url.bearer.authorization.k8s.io.a+b/,x'],
      expected: { kind: 'error', message: 'invalid base64.bearer.authorization token encoding' },
    },
    {
      name: 'not utf-8',
      lines: [`base64url.bearer.authorization.k8s.io.${Buffer.from([0xff, 0xfe]).toString('base64url')},x`],
      expected: { kind: 'error', message: 'invalid base64.bearer.authorization token' },
    },
    {
      name: 'empty token is no opinion',
      lines: ['base64url.bearer.authorization.k8s.io.,x'],
      expected: { kind: 'none' },
    },
  ];
  for (const c of cases) it(c.name, () => expect(parseProtocolToken(c.lines)).to.deep.equal(c.expected));

  it('isWebSocketRequest needs Upgrade: websocket and Connection listing upgrade', () => {
    expect(isWebSocketRequest(fakeRequest([...upgrade]))).to.equal(true);
    expect(isWebSocketRequest(fakeRequest([['Upgrade', 'websocket']]))).to.equal(false);
    expect(
      isWebSocketRequest(
        fakeRequest([
          ['Connection', 'upgrade'],
          ['Upgrade', 'h2c'],
        ]),
      ),
    ).to.equal(false);
  });
});

describe('websocketProtocolAuthenticator', () => {
  const tokens = tokenAuthenticatorFunc(async (token) =>
    token === 'good'
      ? { ok: true, user: { name: 'ws', uid: '', groups: [], extra: {} }, authenticator: 'tokenreview' }
      : { ok: false },
  );

  it('accepted token: user, sec-websocket-protocol consumed', async () => {
    const r = await websocketProtocolAuthenticator(tokens).authenticateRequest(
      fakeRequest([...upgrade, ['Sec-WebSocket-Protocol', `${enc('good')}, v4.channel.k8s.io`]]),
    );
    expect(r.ok && r.user.name).to.equal('ws');
    expect(r.ok && r.consumedHeaders).to.deep.equal(['sec-websocket-protocol']);
  });

  it('rejected token: invalid bearer token', async () => {
    const r = await websocketProtocolAuthenticator(tokens).authenticateRequest(
      fakeRequest([...upgrade, ['Sec-WebSocket-Protocol', `${enc('bad')}, v4.channel.k8s.io`]]),
    );
    expect(!r.ok && r.error!.message).to.equal('invalid bearer token');
  });

  it('not a websocket upgrade: no opinion', async () => {
    const r = await websocketProtocolAuthenticator(tokens).authenticateRequest(
      fakeRequest([['Sec-WebSocket-Protocol', `${enc('good')}, v4.channel.k8s.io`]]),
    );
    expect(r).to.deep.equal({ ok: false });
  });
});

describe('isWebSocketRequest (wsstream.IsWebSocketRequest, Kubernetes 1.29+)', () => {
  type Lines = readonly (readonly [string, string])[];
  const cases: readonly { name: string; lines: Lines; expected: boolean }[] = [
    {
      name: 'Connection: Upgrade',
      lines: [
        ['Upgrade', 'websocket'],
        ['Connection', 'Upgrade'],
      ],
      expected: true,
    },
    {
      name: 'upgrade listed after other tokens on one line',
      lines: [
        ['Upgrade', 'websocket'],
        ['Connection', 'keep-alive,  UPGRADE '],
      ],
      expected: true,
    },
    {
      name: 'upgrade on the second Connection line only (1.29 checks every line)',
      lines: [
        ['Upgrade', 'websocket'],
        ['Connection', 'keep-alive'],
        ['Connection', 'Upgrade'],
      ],
      expected: true,
    },
    {
      name: 'upgrade on the third of three Connection lines',
      lines: [
        ['Connection', 'close'],
        ['Connection', ''],
        ['Upgrade', 'WebSocket'],
        ['Connection', 'x, upgrade'],
      ],
      expected: true,
    },
    {
      name: 'a substring counts, as in Go (strings.Contains): Connection: x-upgraded',
      lines: [
        ['Upgrade', 'websocket'],
        ['Connection', 'x-upgraded'],
      ],
      expected: true,
    },
    {
      name: 'no Connection line contains upgrade',
      lines: [
        ['Upgrade', 'websocket'],
        ['Connection', 'keep-alive'],
        ['Connection', 'close, upgrad, pgrade'],
      ],
      expected: false,
    },
    {
      name: 'upgrade split across two Connection lines does not count',
      lines: [
        ['Upgrade', 'websocket'],
        ['Connection', 'upg'],
        ['Connection', 'rade'],
      ],
      expected: false,
    },
    { name: 'no Connection header', lines: [['Upgrade', 'websocket']], expected: false },
    { name: 'no Upgrade header', lines: [['Connection', 'upgrade']], expected: false },
    {
      name: 'Upgrade: h2c',
      lines: [
        ['Upgrade', 'h2c'],
        ['Connection', 'upgrade'],
      ],
      expected: false,
    },
    {
      name: 'only the first Upgrade line counts (Go Header.Get): h2c then websocket',
      lines: [
        ['Upgrade', 'h2c'],
        ['Upgrade', 'websocket'],
        ['Connection', 'upgrade'],
      ],
      expected: false,
    },
    {
      name: 'first Upgrade line websocket, second something else',
      lines: [
        ['Upgrade', 'websocket'],
        ['Upgrade', 'h2c'],
        ['Connection', 'upgrade'],
      ],
      expected: true,
    },
    {
      name: 'Upgrade is compared whole, not as a list: "websocket, h2c"',
      lines: [
        ['Upgrade', 'websocket, h2c'],
        ['Connection', 'upgrade'],
      ],
      expected: false,
    },
    {
      name: 'Upgrade with surrounding space is not websocket (Go does not trim)',
      lines: [
        ['Upgrade', ' websocket'],
        ['Connection', 'upgrade'],
      ],
      expected: false,
    },
    {
      name: 'strings.EqualFold: KELVIN SIGN folds with k',
      lines: [
        ['Upgrade', 'websoc\u212Aet'],
        ['Connection', 'upgrade'],
      ],
      expected: true,
    },
    {
      name: 'strings.EqualFold: LONG S folds with s',
      lines: [
        ['Upgrade', 'web\u017Focket'],
        ['Connection', 'upgrade'],
      ],
      expected: true,
    },
    {
      name: 'a look-alike that does not fold (Cyrillic о) is not websocket',
      lines: [
        ['Upgrade', 'websоcket'],
        ['Connection', 'upgrade'],
      ],
      expected: false,
    },
    {
      name: 'Connection letters only fold in ASCII (dotted İ does not lower-case to a letter of upgrade)',
      lines: [
        ['Upgrade', 'websocket'],
        ['Connection', 'upgr\u0130de'],
      ],
      expected: false,
    },
  ];
  for (const c of cases) it(c.name, () => expect(isWebSocketRequest(fakeRequest(c.lines))).to.equal(c.expected));

  it('the module that parses these unauthenticated headers contains no regular expression (no backtracking)', () => {
    // The pre-1.29 Go pattern `(^|.*,\s*)upgrade($|\s*,)` is quadratic in V8's backtracking engine: a 16 kB
    // Connection line cost ~0.4 s of CPU before authentication. A structural guard, so no timing is involved.
    const file = new URL('../../lib/authn/websocket-protocol.ts', import.meta.url);
    const source = ts.createSourceFile('websocket-protocol.ts', readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    const found: string[] = [];
    const visit = (node: ts.Node): void => {
      if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) found.push(node.getText(source));
      if (ts.isIdentifier(node) && node.text === 'RegExp') found.push('RegExp');
      if (ts.isPropertyAccessExpression(node) && ['match', 'matchAll', 'search'].includes(node.name.text)) {
        found.push(node.getText(source));
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    expect(found).to.deep.equal([]);
  });

  /** Characters read (charCodeAt calls) while deciding `lines`; the scans read the header text only that way. */
  function charactersRead(lines: readonly (readonly [string, string])[]): number {
    const req = fakeRequest(lines);
    const original = String.prototype.charCodeAt;
    let reads = 0;
    String.prototype.charCodeAt = function (this: string, i: number) {
      reads++;
      return original.call(this, i);
    };
    try {
      isWebSocketRequest(req);
    } finally {
      String.prototype.charCodeAt = original;
    }
    return reads;
  }

  it('work grows linearly with the Connection header: 10x the input reads at most ~10x the characters', () => {
    // Inputs shaped like the attack on the old pattern (many list separators, near-misses of `upgrade`).
    const hostile = (n: number) => ', upgradx,\t'.repeat(n) + 'upgrad';
    for (const unit of [200, 1600]) {
      const small = charactersRead([
        ['Upgrade', 'websocket'],
        ['Connection', hostile(unit)],
      ]);
      const large = charactersRead([
        ['Upgrade', 'websocket'],
        ['Connection', hostile(unit * 10)],
      ]);
      const length = hostile(unit * 10).length;
      expect(large, 'the scan reads the header (the measurement sees it)').to.be.greaterThan(length);
      expect(large, 'at most |"upgrade"| reads per character').to.be.at.most(7 * length + 16);
      expect(large / small).to.be.at.most(10.1);
    }
    // Spread over many lines, the total is still bounded by the total length.
    const lines = Array.from({ length: 100 }, () => ['Connection', hostile(50)] as const);
    const total = lines.reduce((n, [, v]) => n + v.length, 0);
    expect(charactersRead([['Upgrade', 'websocket'], ...lines])).to.be.at.most(7 * total + 16 * 100);
  });

  it('a 64 kB hostile Connection line is answered correctly (false, then true with upgrade at the end)', () => {
    const v = ', upgradx,'.repeat(6_500);
    expect(
      isWebSocketRequest(
        fakeRequest([
          ['Upgrade', 'websocket'],
          ['Connection', v],
        ]),
      ),
    ).to.equal(false);
    expect(
      isWebSocketRequest(
        fakeRequest([
          ['Upgrade', 'websocket'],
          ['Connection', v + 'upgrade'],
        ]),
      ),
    ).to.equal(true);
  });
});

describe('WebSocket bearer subprotocol over real TLS (full Koa stack)', function () {
  this.timeout(20_000);
  let stack: SecurityStack;
  before(async () => {
    stack = await startSecurityStack();
  });
  after(async () => {
    await stack?.close();
  });

  const proto = `base64url.bearer.authorization.k8s.io.${Buffer.from(goodToken).toString('base64url')}`;
  const send = (connectionLines: readonly string[]) =>
    stack.raw(
      [
        'GET /apis/wardle.example.com/v1alpha1/namespaces/default/flunders HTTP/1.1',
        'Host: localhost',
        ...connectionLines.map((v) => `Connection: ${v}`),
        'Upgrade: websocket',
        `Sec-WebSocket-Protocol: ${proto}, v4.channel.k8s.io`,
        '',
        '',
      ].join('\r\n'),
    );

  it('`upgrade` on the second Connection line: the subprotocol token authenticates (token-user)', async () => {
    const before = stack.seen.length;
    const raw = await send(['close', 'Upgrade']);
    expect(raw).to.match(/^HTTP\/1\.1 200 /);
    expect(stack.seen.length).to.equal(before + 1);
    expect(stack.seen.at(-1)!.user.name).to.equal('token-user');
    expect(stack.seen.at(-1)!.authenticator).to.equal('tokenreview');
  });

  it('no Connection line lists upgrade: the subprotocol is not a credential (anonymous)', async () => {
    const before = stack.seen.length;
    const raw = await send(['close', 'keep-alive']);
    expect(raw).to.match(/^HTTP\/1\.1 200 /);
    expect(stack.seen.length).to.equal(before + 1);
    expect(stack.seen.at(-1)!.user.name).to.equal('system:anonymous');
  });
});
