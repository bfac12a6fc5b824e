import type { IncomingHttpHeaders } from 'node:http';
import { tokenAuthenticatorFunc, type UserInfo } from '../../lib/authn/interfaces.js';
import { Decision, authorizerFunc, type Authorizer } from '../../lib/authz/interfaces.js';
import { newDelegatingAuthorizer } from '../../lib/authz/delegating.js';
import { staticPolicyAuthorizer } from '../../lib/authz/static-policy.js';
import { KdaError } from '../../lib/errors.js';
import type { DelegatedAuthPipelineOptions } from '../../lib/http/pipeline.js';
import { unauthorizedBody } from '../../lib/http/status.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { testPki } from '../support/pki.js';

/**
 * The one authentication/authorization table every adapter (Koa, Express, Fastify, node:http) must pass, byte for
 * byte: same status, same body, same Content-Type / X-Content-Type-Options / Connection headers.
 */

export const W = '/apis/wardle.example.com/v1alpha1';

/** Which client certificate the request is sent with. */
export type ClientIdentity = 'none' | 'proxy' | 'proxyOtherCN' | 'alice';

/** What the test handler answers for an admitted request: the identity it was given and the identity headers left. */
export interface Echo {
  readonly user: UserInfo;
  readonly authenticator: string;
  /** `authorization` and `x-remote-*` header lines still visible to the handler, in order. */
  readonly identityHeaders: readonly string[];
}

export interface AdapterCase {
  readonly name: string;
  readonly client: ClientIdentity;
  readonly method?: 'GET' | 'DELETE' | 'POST';
  readonly path: string;
  /** Header lines sent as is (repeats kept). */
  readonly headers?: readonly (readonly [string, string])[];
  readonly status: number;
  /** Exact response body (refusals). */
  readonly body?: string;
  /** The handler's echo (admitted requests). */
  readonly echo?: Echo;
  /** Response headers that must be present with exactly this value. */
  readonly responseHeaders?: Readonly<Record<string, string>>;
}

const statusJson = { 'content-type': 'application/json' };

export const adapterCases: readonly AdapterCase[] = [
  {
    name: 'front-proxy user with groups and extra is admitted by the policy; identity headers are stripped',
    client: 'proxy',
    path: `${W}/namespaces/default/flunders`,
    headers: [
      ['X-Remote-User', 'alice'],
      ['X-Remote-Group', 'developers'],
      ['X-Remote-Group', 'qa'],
      ['X-Remote-Extra-Scopes', 'read'],
      ['Authorization', 'Bearer not-looked-at'],
    ],
    status: 200,
    echo: {
      user: {
        name: 'alice',
        uid: '',
        groups: ['developers', 'qa', 'system:authenticated'],
        extra: { scopes: ['read'] },
      },
      authenticator: 'requestheader',
      identityHeaders: [],
    },
  },
  {
    name: 'spoofed X-Remote-* headers without a client certificate: anonymous, headers stripped',
    client: 'none',
    path: '/whoami',
    headers: [
      ['X-Remote-User', 'mallory'],
      ['X-Remote-Group', 'system:masters'],
      ['X-Remote-Extra-Scopes', 'all'],
    ],
    status: 200,
    echo: {
      user: { name: 'system:anonymous', uid: '', groups: ['system:unauthenticated'], extra: {} },
      authenticator: 'anonymous',
      identityHeaders: [],
    },
  },
  {
    name: 'valid bearer token with spoofed X-Remote-User: the token user; Authorization and X-Remote-* stripped',
    client: 'none',
    path: '/whoami',
    headers: [
      ['Authorization', 'Bearer carol-token'],
      ['X-Remote-User', 'mallory'],
    ],
    status: 200,
    echo: {
      user: { name: 'carol', uid: 'c-1', groups: ['readers', 'system:authenticated'], extra: {} },
      authenticator: 'static-token',
      identityHeaders: [],
    },
  },
  {
    name: 'rejected bearer token: 401 Status, never anonymous',
    client: 'none',
    path: '/whoami',
    headers: [['Authorization', 'Bearer wrong-token']],
    status: 401,
    body: unauthorizedBody,
    responseHeaders: statusJson,
  },
  {
    name: 'front-proxy certificate whose CN is not in requestheader-allowed-names: 401 Status',
    client: 'proxyOtherCN',
    path: `${W}/namespaces/default/flunders`,
    headers: [['X-Remote-User', 'alice']],
    status: 401,
    body: unauthorizedBody,
    responseHeaders: statusJson,
  },
  {
    name: 'client certificate in system:masters: allowed without the policy',
    client: 'alice',
    method: 'DELETE',
    path: `${W}/namespaces/default/flunders/foo`,
    status: 200,
    echo: {
      user: {
        name: 'alice',
        uid: '',
        groups: ['developers', 'system:masters', 'system:authenticated'],
        extra: { 'authentication.kubernetes.io/credential-id': [`X509SHA256=${aliceFingerprint()}`] },
      },
      authenticator: 'x509',
      identityHeaders: [],
    },
  },
  {
    name: 'front-proxy user the policy does not allow: 403 Status with the exact message',
    client: 'proxy',
    method: 'DELETE',
    path: `${W}/namespaces/default/flunders/foo`,
    headers: [['X-Remote-User', 'bob']],
    status: 403,
    body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"flunders.wardle.example.com \\"foo\\" is forbidden: User \\"bob\\" cannot delete resource \\"flunders\\" in API group \\"wardle.example.com\\" in the namespace \\"default\\"","reason":"Forbidden","details":{"name":"foo","group":"wardle.example.com","kind":"flunders"},"code":403}\n',
    responseHeaders: { ...statusJson, 'x-content-type-options': 'nosniff' },
  },
  {
    name: 'anonymous non-resource path the policy does not allow: 403 Status',
    client: 'none',
    path: '/metrics',
    status: 403,
    body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \\"system:anonymous\\" cannot get path \\"/metrics\\"","reason":"Forbidden","details":{},"code":403}\n',
    responseHeaders: { ...statusJson, 'x-content-type-options': 'nosniff' },
  },
  {
    name: 'authorizer error: 500 Internal Server Error with the request URI',
    client: 'none',
    path: `${W}/explosions?limit=1`,
    status: 500,
    body: `Internal Server Error: "${W}/explosions?limit=1": webhook exploded\n`,
    responseHeaders: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
  },
  {
    name: 'always-allow path /healthz: anonymous admitted without the policy',
    client: 'none',
    path: '/healthz',
    status: 200,
    echo: {
      user: { name: 'system:anonymous', uid: '', groups: ['system:unauthenticated'], extra: {} },
      authenticator: 'anonymous',
      identityHeaders: [],
    },
  },
  {
    name: 'RequestInfo cannot be built (/api/v1/watch): 500',
    client: 'alice',
    path: '/api/v1/watch',
    status: 500,
    body: 'Internal Server Error: "/api/v1/watch": failed to create RequestInfo: unable to determine kind and namespace from url, /api/v1/watch\n',
    responseHeaders: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
  },
  {
    name: 'malformed % escape in the path: 400 Bad Request, connection closed',
    client: 'alice',
    path: `${W}/namespaces/%zz/flunders`,
    status: 400,
    body: '400 Bad Request',
    responseHeaders: { 'content-type': 'text/plain; charset=utf-8', connection: 'close' },
  },
  {
    name: 'backslashes in the path (url.parse would route them as /): 400 BadRequest Status before authentication',
    client: 'alice',
    path: `${W}\\namespaces\\default\\flunders`,
    status: 400,
    body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"invalid request target: a backslash in the path","reason":"BadRequest","code":400}\n',
    responseHeaders: { ...statusJson, 'x-content-type-options': 'nosniff' },
  },
  {
    name: '%2F inside a segment (Go splits after decoding, routers before): 400 BadRequest Status',
    client: 'alice',
    path: `${W}/namespaces/default%2Fflunders/foo`,
    status: 400,
    body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"invalid request target: an encoded \\"/\\" (%2F) in a path segment","reason":"BadRequest","code":400}\n',
    responseHeaders: { ...statusJson, 'x-content-type-options': 'nosniff' },
  },
];

/**
 * The options every adapter gets: front-proxy (allowed name front-proxy-client) + x509 client CA + anonymous, and
 * a token authenticator knowing one token, and Go's delegating authorizer without a review client plus a static policy and an authorizer that fails on
 * `explosions`.
 */
export function adapterOptions(): DelegatedAuthPipelineOptions & { authorizer: Authorizer } {
  const pki = testPki();
  const policy = staticPolicyAuthorizer({
    rules: [
      { users: ['alice'], verbs: ['get', 'list'], apiGroups: ['wardle.example.com'], resources: ['flunders'] },
      { groups: ['*'], verbs: ['get'], nonResourceURLs: ['/whoami'] },
    ],
  });
  const exploding = authorizerFunc(async (attrs) =>
    attrs.resource === 'explosions'
      ? {
          decision: Decision.NoOpinion,
          reason: '',
          error: new KdaError('ERR_KDA_REVIEW_FAILED', 'webhook exploded'),
        }
      : { decision: Decision.NoOpinion, reason: '' },
  );
  return {
    requestHeader: {
      caProvider: staticCABundle(pki.frontProxyCA.certPem),
      configProvider: staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] }),
    },
    clientCA: staticCABundle(pki.clientCA.certPem),
    // A pluggable token authenticator (what a TokenReview client would answer for these two tokens).
    tokenAuthenticator: tokenAuthenticatorFunc(async (token) =>
      token === 'carol-token'
        ? {
            ok: true,
            authenticator: 'static-token',
            user: { name: 'carol', uid: 'c-1', groups: ['readers'], extra: {} },
          }
        : { ok: false },
    ),
    anonymous: true,
    authorizer: newDelegatingAuthorizer({ additionalAuthorizers: [policy, exploding] }),
  };
}

function aliceFingerprint(): string {
  return testPki().alice.x509.fingerprint256.replaceAll(':', '').toLowerCase();
}

/** The identity header lines a handler still sees (must be none after authentication). */
export function identityHeaderLines(rawHeaders: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name === 'authorization' || name.startsWith('x-remote-')) out.push(`${name}: ${rawHeaders[i + 1]}`);
  }
  return out;
}

/** The response headers the table checks, from undici's header object. */
export function pickHeaders(headers: IncomingHttpHeaders, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = headers[n];
    if (v !== undefined) out[n] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}
