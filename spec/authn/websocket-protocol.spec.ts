import { expect } from 'chai';
import { tokenAuthenticatorFunc } from '../../lib/authn/interfaces.js';
import {
  isWebSocketRequest,
  parseProtocolToken,
  websocketProtocolAuthenticator,
} from '../../lib/authn/websocket-protocol.js';
import { fakeRequest } from '../support/authn-request.js';

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
