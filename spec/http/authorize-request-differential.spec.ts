// Issue 12 step 5: the authorization sequence was written three times (Koa authorize(), Express authorize(), the
// pipeline's run()) and is now `authorizeRequest()` in lib/http/authorization.ts, with a synchronous answer when the
// authorizer has one. This property compares it with the frozen old sequence (spec/http/legacy/) over generated
// requests, users, authorizers (allow, deny, no opinion, errors, throwing, rejecting, garbage; with and without
// `authorizeSync`), attribute hooks and per-route overrides: same ok, response bytes, attributes, result and log
// lines.
import { expect } from 'chai';
import fc from 'fast-check';
import type { UserInfo } from '../../lib/authn/interfaces.js';
import {
  Decision,
  type AuthorizationResult,
  type Authorizer,
  type RequestAttributes,
} from '../../lib/authz/interfaces.js';
import { KdaError } from '../../lib/errors.js';
import { authorizeRequest, type AttributesOverride } from '../../lib/http/pipeline.js';
import { resolveRequestInfo } from '../../lib/http/request-info.js';
import type { Logger } from '../../lib/log.js';
import { fuzzParams, fuzzTimeout } from '../fuzz/runs.js';
import { oldAuthorizeSequence } from './legacy/authorization-step.js';

type Behaviour =
  'allow' | 'deny' | 'no-opinion' | 'no-opinion+error' | 'allow+error' | 'deny+error' | 'throw' | 'garbage';
type SyncMode = 'none' | 'answers' | 'defers';

function resultOf(b: Behaviour, reason: string): AuthorizationResult | undefined {
  const error = new KdaError('ERR_KDA_REVIEW_FAILED', `review failed: ${reason}`);
  switch (b) {
    case 'allow':
      return { decision: Decision.Allow, reason };
    case 'deny':
      return { decision: Decision.Deny, reason };
    case 'no-opinion':
      return { decision: Decision.NoOpinion, reason };
    case 'no-opinion+error':
      return { decision: Decision.NoOpinion, reason, error };
    case 'allow+error':
      return { decision: Decision.Allow, reason, error };
    case 'deny+error':
      return { decision: Decision.Deny, reason, error };
    default:
      return undefined;
  }
}

function authorizerOf(b: Behaviour, sync: SyncMode, reason: string): Authorizer {
  const result = resultOf(b, reason);
  const answer = (): AuthorizationResult => {
    if (b === 'throw') throw new Error(`authorizer bug at /work/secret.ts:1 (${reason})`);
    return (b === 'garbage' ? null : result) as AuthorizationResult;
  };
  const a: Authorizer = { authorize: async () => answer() };
  if (sync === 'answers') a.authorizeSync = () => answer();
  if (sync === 'defers') a.authorizeSync = () => undefined;
  return a;
}

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (fields: object, msg: string) => {
    const { stack: _stack, ...rest } = fields as Record<string, unknown>;
    lines.push(`${level} ${msg} ${JSON.stringify(rest)}`);
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const paths = [
  '/api/v1/namespaces/default/pods',
  '/api/v1/namespaces/default/pods/web-0/log',
  '/apis/example.com/v1/widgets/a',
  '/apis/example.com/v1/namespaces/x/widgets?watch=true',
  '/apis/apps/v1/deployments?labelSelector=a%3Db',
  '/api/v1/nodes/n1/proxy/metrics',
  '/healthz',
  '/metrics',
  '/api',
  '/apis',
  '/version',
  '/api/v1/watch/pods',
  '/apis/example.com/v1/widgets/<script>',
];

const userArb: fc.Arbitrary<UserInfo | undefined> = fc.option(
  fc.record({
    name: fc.constantFrom('alice', 'system:anonymous', 'system:serviceaccount:a:b', '<b>', ''),
    uid: fc.constantFrom('', 'u1'),
    groups: fc.subarray(['system:authenticated', 'system:masters', 'dev']),
    extra: fc.constant({}),
  }),
  { nil: undefined },
);

const overrideArb: fc.Arbitrary<AttributesOverride | undefined | 'throws'> = fc.oneof(
  fc.constant(undefined),
  fc.constant('throws' as const),
  fc.record({
    verb: fc.constantFrom('get', 'list'),
    resource: fc.constantFrom('metrics', 'pods'),
    resourceRequest: fc.boolean(),
  }),
  fc.constant((d: RequestAttributes) => ({ ...d, namespace: 'forced' })),
);

describe('http/authorizeRequest: the same decisions as the old three copies of the sequence', () => {
  it('agrees with the frozen old sequence on every generated request', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
        fc.constantFrom(...paths),
        userArb,
        fc.constantFrom<Behaviour>(
          'allow',
          'deny',
          'no-opinion',
          'no-opinion+error',
          'allow+error',
          'deny+error',
          'throw',
          'garbage',
        ),
        fc.constantFrom<SyncMode>('none', 'answers', 'defers'),
        fc.constantFrom('', 'rbac: no', 'a <b> & "c"'),
        fc.constantFrom('none', 'verb', 'throws'),
        overrideArb,
        async (method, uri, user, behaviour, sync, reason, hook, override) => {
          const resolved = resolveRequestInfo(method, uri, { authorizationSelectors: false });
          const info = resolved.ok ? resolved.info : undefined;
          const authorizer = authorizerOf(behaviour, sync, reason);
          const attributes =
            hook === 'none'
              ? undefined
              : (d: RequestAttributes): RequestAttributes => {
                  if (hook === 'throws') throw new Error('hook bug at /work/secret.ts:2');
                  return { ...d, verb: 'impersonate' };
                };
          const ov: AttributesOverride | undefined =
            override === 'throws'
              ? () => {
                  throw new Error('override bug');
                }
              : override;
          const oldLog = capture();
          const newLog = capture();
          const old = await oldAuthorizeSequence(
            authorizer,
            info,
            user,
            uri,
            method,
            { ...(attributes && { attributes }), ...(ov && { override: ov }) },
            oldLog,
          );
          const pending = authorizeRequest(
            authorizer,
            { requestInfo: info, user, uri, method, res: undefined },
            { attributes, override: ov },
            newLog,
          );
          const now = await pending;
          expect(now.ok).to.equal(old.ok);
          expect(now.response).to.deep.equal(old.response);
          expect(now.attributes).to.deep.equal(old.attributes);
          expect(now.result).to.equal(old.result);
          expect(newLog.lines).to.deep.equal(oldLog.lines);
          // The synchronous path answers without a promise exactly when the authorizer answered at once.
          const immediate = sync === 'answers' || !info || hook === 'throws' || override === 'throws';
          expect(pending instanceof Promise).to.equal(!immediate);
        },
      ),
      fuzzParams(400),
    );
  }).timeout(fuzzTimeout(400, 5));
});
