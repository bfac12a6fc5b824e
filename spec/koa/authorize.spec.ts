import { expect } from 'chai';
import Koa from 'koa';
import type { Agent } from 'undici';
import { alwaysAllowGroupsAuthorizer } from '../../lib/authz/always-allow-groups.js';
import { alwaysAllowPathsAuthorizer } from '../../lib/authz/always-allow-paths.js';
import {
  Decision,
  authorizerFunc,
  type Authorizer,
  type SubjectAccessReview,
  type SubjectAccessReviewStatus,
} from '../../lib/authz/interfaces.js';
import { KdaError } from '../../lib/errors.js';
import { SubjectAccessReviewAuthorizer } from '../../lib/authz/subject-access-review.js';
import { unionAuthorizers } from '../../lib/authz/union.js';
import { authenticate } from '../../lib/koa/authenticate.js';
import {
  authorizationChannel,
  authorize,
  type AuthorizationEvent,
  type AuthorizeOptions,
  type AuthorizeState,
} from '../../lib/koa/authorize.js';
import { requestInfo } from '../../lib/koa/request-info.js';
import { staticCABundle } from '../../lib/trust/static.js';
import { webhookError } from '../../lib/util/review-retry.js';
import { testPki } from '../support/pki.js';
import { recordingLogger } from '../support/recording-logger.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';
import { waitFor } from '../support/wait-for.js';

const W = '/apis/wardle.example.com/v1alpha1';

/** In-process fake SubjectAccessReview client: the test sets `answer`; every review is recorded. */
function fakeSarClient() {
  const state = {
    reviews: [] as SubjectAccessReview[],
    answer: (
      _sar: SubjectAccessReview,
      _signal?: AbortSignal,
    ): SubjectAccessReviewStatus | Error | Promise<SubjectAccessReviewStatus> => ({
      allowed: false,
    }),
  };
  return {
    state,
    client: {
      async create(sar: SubjectAccessReview, signal?: AbortSignal) {
        state.reviews.push(sar);
        const a = await state.answer(sar, signal);
        if (a instanceof Error) throw a;
        return a;
      },
    },
  };
}

interface Setup {
  server: TestTlsServer;
  sar: ReturnType<typeof fakeSarClient>;
  authorizer: SubjectAccessReviewAuthorizer;
  log: ReturnType<typeof recordingLogger>;
}

/**
 * A real Koa app over HTTPS: requestInfo() → authenticate() (x509 client CA + anonymous) → authorize(union of
 * always-allow groups, always-allow paths, SubjectAccessReview with a fake client) → handler answering 200 "ok".
 */
async function setup(
  opts: {
    authorize?: Partial<AuthorizeOptions>;
    selectors?: boolean;
    route?: (app: Koa<AuthorizeState>) => void;
    noRequestInfo?: boolean;
  } = {},
): Promise<Setup> {
  const pki = testPki();
  const sar = fakeSarClient();
  const log = recordingLogger();
  // Caching off so each case sees its own answer (caching is covered in spec/authz/subject-access-review.spec.ts).
  const authorizer = new SubjectAccessReviewAuthorizer({
    client: sar.client,
    retryBackoff: { sleep: async () => undefined },
    authorizationWebhookCacheAuthorizedTtl: 0,
    authorizationWebhookCacheUnauthorizedTtl: 0,
  });
  const chain: Authorizer = unionAuthorizers(alwaysAllowGroupsAuthorizer(), alwaysAllowPathsAuthorizer(), authorizer);
  const app = new Koa<AuthorizeState>();
  app.silent = true;
  if (!opts.noRequestInfo) app.use(requestInfo({ authorizationSelectors: opts.selectors === true, logger: log }));
  app.use(authenticate({ clientCA: staticCABundle(pki.clientCA.certPem), anonymous: true }));
  opts.route?.(app);
  app.use(authorize({ authorizer: chain, logger: log, ...opts.authorize }));
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  const server = await startTlsServer(app.callback());
  return { server, sar, authorizer, log };
}

async function get(s: Setup, agent: Agent, path: string, method = 'GET') {
  // agent.request sends the path byte for byte (a URL string would be normalized and percent-encoded first).
  const res = await agent.request({ origin: s.server.url, path, method: method as 'GET' });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('koa authorize() + requestInfo() over HTTPS', () => {
  const pki = testPki();
  const anonymous = clientAgent();
  const alice = clientAgent(pki.alice);
  after(async () => {
    await Promise.all([anonymous.close(), alice.close()]);
  });

  describe('default chain (always-allow groups, always-allow paths, SubjectAccessReview)', () => {
    let s: Setup;
    before(async () => {
      s = await setup();
    });
    after(async () => {
      await s.server.close();
      await s.authorizer.close();
    });
    beforeEach(() => {
      s.sar.state.reviews.length = 0;
      s.sar.state.answer = () => ({ allowed: false });
      s.log.lines.length = 0;
    });

    it('allowed by the SubjectAccessReview: 200 from the handler, one review with the request attributes', async () => {
      s.sar.state.answer = () => ({ allowed: true, reason: 'RBAC: allowed' });
      const r = await get(s, anonymous, `${W}/namespaces/default/flunders?watch=1`);
      expect(r).to.include({ status: 200, body: 'ok' });
      expect(s.sar.state.reviews).to.have.length(1);
      expect(s.sar.state.reviews[0]!.spec).to.deep.equal({
        resourceAttributes: {
          namespace: 'default',
          verb: 'watch',
          group: 'wardle.example.com',
          version: 'v1alpha1',
          resource: 'flunders',
        },
        user: 'system:anonymous',
        groups: ['system:unauthenticated'],
      });
    });

    it('system:masters (client cert O=system:masters) needs no review', async () => {
      const r = await get(s, alice, `${W}/namespaces/default/flunders/foo`, 'DELETE');
      expect(r).to.include({ status: 200, body: 'ok' });
      expect(s.sar.state.reviews).to.have.length(0);
    });

    for (const p of ['/healthz', '/readyz', '/livez']) {
      it(`always-allow path ${p} needs no review, even anonymously`, async () => {
        const r = await get(s, anonymous, p);
        expect(r).to.include({ status: 200, body: 'ok' });
        expect(s.sar.state.reviews).to.have.length(0);
      });
    }

    it('/healthz/etcd is not an always-allow path: reviewed as a non-resource request', async () => {
      const r = await get(s, anonymous, '/healthz/etcd');
      expect(r.status).to.equal(403);
      expect(s.sar.state.reviews[0]!.spec.nonResourceAttributes).to.deep.equal({ path: '/healthz/etcd', verb: 'get' });
    });

    const forbiddenCases: readonly {
      name: string;
      method?: string;
      path: string;
      reason?: string;
      body: string;
    }[] = [
      {
        name: 'namespaced resource with a name',
        path: `${W}/namespaces/default/flunders/foo`,
        body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"flunders.wardle.example.com \\"foo\\" is forbidden: User \\"system:anonymous\\" cannot get resource \\"flunders\\" in API group \\"wardle.example.com\\" in the namespace \\"default\\"","reason":"Forbidden","details":{"name":"foo","group":"wardle.example.com","kind":"flunders"},"code":403}\n',
      },
      {
        name: 'cluster scope list',
        path: `${W}/fischers`,
        body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"fischers.wardle.example.com is forbidden: User \\"system:anonymous\\" cannot list resource \\"fischers\\" in API group \\"wardle.example.com\\" at the cluster scope","reason":"Forbidden","details":{"group":"wardle.example.com","kind":"fischers"},"code":403}\n',
      },
      {
        name: 'core group namespaced list',
        path: '/api/v1/namespaces/default/pods',
        body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is forbidden: User \\"system:anonymous\\" cannot list resource \\"pods\\" in API group \\"\\" in the namespace \\"default\\"","reason":"Forbidden","details":{"kind":"pods"},"code":403}\n',
      },
      {
        name: 'non-resource path /',
        path: '/',
        body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \\"system:anonymous\\" cannot get path \\"/\\"","reason":"Forbidden","details":{},"code":403}\n',
      },
      {
        name: 'subresource',
        method: 'PATCH',
        path: `${W}/namespaces/default/flunders/foo/status`,
        body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"flunders.wardle.example.com \\"foo\\" is forbidden: User \\"system:anonymous\\" cannot patch resource \\"flunders/status\\" in API group \\"wardle.example.com\\" in the namespace \\"default\\"","reason":"Forbidden","details":{"name":"foo","group":"wardle.example.com","kind":"flunders"},"code":403}\n',
      },
      {
        name: 'with the reviewer reason appended',
        path: '/metrics',
        reason: 'no RBAC policy matched',
        body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \\"system:anonymous\\" cannot get path \\"/metrics\\": no RBAC policy matched","reason":"Forbidden","details":{},"code":403}\n',
      },
      {
        name: 'HTML in the path is sanitized, then JSON-escaped like Go; the reason is not sanitized',
        path: '/a<b>&c',
        reason: '<i>nope</i> & more',
        body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \\"system:anonymous\\" cannot get path \\"/a\\u0026lt;b\\u0026gt;\\u0026amp;c\\": \\u003ci\\u003enope\\u003c/i\\u003e \\u0026 more","reason":"Forbidden","details":{},"code":403}\n',
      },
      {
        name: 'name with control characters and quotes is Go-quoted in the message, raw in details',
        path: `${W}/namespaces/default/flunders/a%07b%22c%7F`,
        body: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"flunders.wardle.example.com \\"a\\\\ab\\\\\\"c\\\\x7f\\" is forbidden: User \\"system:anonymous\\" cannot get resource \\"flunders\\" in API group \\"wardle.example.com\\" in the namespace \\"default\\"","reason":"Forbidden","details":{"name":"a\\u0007b\\"c\x7f","group":"wardle.example.com","kind":"flunders"},"code":403}\n',
      },
    ];
    for (const c of forbiddenCases) {
      it(`403 ${c.name}`, async () => {
        s.sar.state.answer = () => ({ allowed: false, ...(c.reason && { reason: c.reason }) });
        const r = await get(s, anonymous, c.path, c.method);
        expect(r.status).to.equal(403);
        expect(r.headers['content-type']).to.equal('application/json');
        expect(r.headers['x-content-type-options']).to.equal('nosniff');
        expect(r.body).to.equal(c.body);
        const logged = s.log.lines.filter((l) => l.msg.startsWith('forbidden'));
        expect(logged).to.have.length(1);
        expect(logged[0]!.fields.reason).to.equal(c.reason ?? '');
      });
    }

    it('403 when the reviewer denies explicitly (Deny stops the chain)', async () => {
      s.sar.state.answer = () => ({ allowed: false, denied: true, reason: 'denied by policy' });
      const r = await get(s, anonymous, '/metrics');
      expect(r.status).to.equal(403);
      expect(JSON.parse(r.body).message).to.equal(
        'forbidden: User "system:anonymous" cannot get path "/metrics": denied by policy',
      );
    });

    const errorCases: readonly {
      name: string;
      path: string;
      answer: () => SubjectAccessReviewStatus | Error;
      body: string;
    }[] = [
      {
        name: 'SAR creation forbidden (missing system:auth-delegator)',
        path: `${W}/namespaces/default/flunders?limit=5`,
        answer: () =>
          webhookError(
            'subjectaccessreviews.authorization.k8s.io is forbidden: User "system:serviceaccount:sample:api" cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope',
            { status: 403, reason: 'Forbidden' },
          ),
        body: 'Internal Server Error: "/apis/wardle.example.com/v1alpha1/namespaces/default/flunders?limit=5": subjectaccessreviews.authorization.k8s.io is forbidden: User "system:serviceaccount:sample:api" cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope\n',
      },
      {
        name: 'allowed and denied at once',
        path: '/metrics',
        answer: () => ({ allowed: true, denied: true }),
        body: 'Internal Server Error: "/metrics": webhook subject access review returned both allow and deny response\n',
      },
      {
        name: 'outage after 5 attempts; HTML in the URI and error sanitized',
        path: '/x?q=<b>',
        answer: () => webhookError('Internal error occurred: <etcd> & co', { status: 500 }),
        body: 'Internal Server Error: "/x?q=&lt;b&gt;": Internal error occurred: &lt;etcd&gt; &amp; co\n',
      },
    ];
    for (const c of errorCases) {
      it(`500 ${c.name}`, async () => {
        s.sar.state.answer = c.answer;
        const r = await get(s, anonymous, c.path);
        expect(r.status).to.equal(500);
        expect(r.headers['content-type']).to.equal('text/plain; charset=utf-8');
        expect(r.headers['x-content-type-options']).to.equal('nosniff');
        expect(r.body).to.equal(c.body);
        expect(
          s.log.lines.filter((l) => l.level === 'error' && l.msg.startsWith('authorization error')),
        ).to.have.length(1);
      });
    }

    it('500 from requestInfo(): /api/v1/watch', async () => {
      const r = await get(s, anonymous, '/api/v1/watch');
      expect(r.status).to.equal(500);
      expect(r.body).to.equal(
        'Internal Server Error: "/api/v1/watch": failed to create RequestInfo: unable to determine kind and namespace from url, /api/v1/watch\n',
      );
      expect(s.sar.state.reviews).to.have.length(0);
    });

    it('400 from requestInfo(): malformed % escape in the path (Go refuses the request line)', async () => {
      const r = await get(s, anonymous, '/api/v1/pods/%zz');
      expect(r.status).to.equal(400);
      expect(r.body).to.equal('400 Bad Request');
      expect(r.headers.connection).to.equal('close');
      expect(s.sar.state.reviews).to.have.length(0);
    });

    it('publishes one kube-delegated-auth:authz event per request (for metrics)', async () => {
      const events: AuthorizationEvent[] = [];
      const onEvent = (e: unknown) => void events.push(e as AuthorizationEvent);
      authorizationChannel.subscribe(onEvent);
      try {
        s.sar.state.answer = () => ({ allowed: false, reason: 'r' });
        await get(s, anonymous, '/metrics');
        await get(s, anonymous, '/healthz');
        s.sar.state.answer = () => webhookError('down', { status: 403 });
        await get(s, anonymous, '/metrics');
      } finally {
        authorizationChannel.unsubscribe(onEvent);
      }
      expect(events.map((e) => [e.attributes.path, e.result, e.reason])).to.deep.equal([
        ['/metrics', 'no-opinion', 'r'],
        ['/healthz', 'allowed', ''],
        ['/metrics', 'error', ''],
      ]);
      expect(events.every((e) => e.durationSeconds >= 0)).to.equal(true);
    });

    it('a client that disconnects mid-review: the review is aborted, nothing is logged as an error', async () => {
      let reviewSignal: AbortSignal | undefined;
      let started!: () => void;
      const reviewStarted = new Promise<void>((r) => (started = r));
      s.sar.state.answer = (_sar, signal) => {
        reviewSignal = signal;
        started();
        return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
      };
      const ac = new AbortController();
      const pending = anonymous
        .request({ origin: s.server.url, path: '/slow', method: 'GET', signal: ac.signal })
        .catch((e: Error) => e);
      await reviewStarted;
      ac.abort();
      expect(await pending).to.be.instanceOf(Error);
      const signal = reviewSignal!;
      await waitFor(() => signal.aborted, {
        what: "the review's signal to abort",
        wakeOn: (wake) => {
          signal.addEventListener('abort', wake);
          return () => signal.removeEventListener('abort', wake);
        },
      });
      expect(signal.aborted).to.equal(true);
      await waitFor(() => s.log.lines.some((l) => l.level === 'debug'), {
        what: 'the debug line',
        wakeOn: (wake) => {
          s.log.logged.on('line', wake);
          return () => s.log.logged.off('line', wake);
        },
      });
      expect(s.log.lines.map((l) => [l.level, l.msg])).to.deep.equal([
        ['debug', 'client disconnected while authorizing'],
      ]);
    });

    it('HEAD forbidden: status only', async () => {
      const r = await get(s, anonymous, `${W}/fischers/x`, 'HEAD');
      expect(r.status).to.equal(403);
      expect(r.body).to.equal('');
    });
  });

  describe('options.attributes and ctx.state.authorizationOverride', () => {
    let s: Setup;
    before(async () => {
      s = await setup({
        authorize: {
          attributes: (ctx, defaults) =>
            ctx.path === '/metrics'
              ? {
                  ...defaults,
                  resourceRequest: true,
                  verb: 'get',
                  apiGroup: '',
                  apiVersion: 'v1',
                  resource: 'services',
                  subresource: 'proxy',
                  namespace: 'monitoring',
                  name: 'sample',
                }
              : defaults,
        },
        route: (app) =>
          app.use(async (ctx, next) => {
            if (ctx.path === '/custom')
              ctx.state.authorizationOverride = {
                verb: 'use',
                resourceRequest: true,
                apiGroup: 'example.io',
                resource: 'gadgets',
              };
            if (ctx.path === '/fn') ctx.state.authorizationOverride = (d) => ({ ...d, verb: 'impersonate' });
            await next();
          }),
      });
    });
    after(async () => {
      await s.server.close();
      await s.authorizer.close();
    });

    it('options.attributes replaces the computed attributes (kube-rbac-proxy style resource check for /metrics)', async () => {
      const r = await get(s, anonymous, '/metrics');
      expect(r.status).to.equal(403);
      expect(s.sar.state.reviews.at(-1)!.spec.resourceAttributes).to.deep.equal({
        namespace: 'monitoring',
        verb: 'get',
        version: 'v1',
        resource: 'services',
        subresource: 'proxy',
        name: 'sample',
      });
      expect(JSON.parse(r.body).message).to.equal(
        'services "sample" is forbidden: User "system:anonymous" cannot get resource "services/proxy" in API group "" in the namespace "monitoring"',
      );
    });
    it('an override object merges into the attributes', async () => {
      await get(s, anonymous, '/custom');
      expect(s.sar.state.reviews.at(-1)!.spec.resourceAttributes).to.deep.equal({
        verb: 'use',
        group: 'example.io',
        resource: 'gadgets',
      });
    });
    it('an override function receives the defaults', async () => {
      await get(s, anonymous, '/fn');
      expect(s.sar.state.reviews.at(-1)!.spec.nonResourceAttributes).to.deep.equal({
        path: '/fn',
        verb: 'impersonate',
      });
    });
  });

  describe('requestInfo({ authorizationSelectors: true })', () => {
    let s: Setup;
    before(async () => {
      s = await setup({ selectors: true });
    });
    after(async () => {
      await s.server.close();
      await s.authorizer.close();
    });
    it('sends field and label selector requirements in the review', async () => {
      s.sar.state.answer = () => ({ allowed: true });
      const q = `fieldSelector=${encodeURIComponent('spec.node=n1,metadata.namespace!=x')}&labelSelector=${encodeURIComponent('app in (web,api),!legacy,tier>1')}`;
      const r = await get(s, anonymous, `${W}/namespaces/default/flunders?${q}`);
      expect(r.status).to.equal(200);
      expect(s.sar.state.reviews[0]!.spec.resourceAttributes).to.deep.equal({
        namespace: 'default',
        verb: 'list',
        group: 'wardle.example.com',
        version: 'v1alpha1',
        resource: 'flunders',
        fieldSelector: {
          requirements: [
            { key: 'metadata.namespace', operator: 'NotIn', values: ['x'] },
            { key: 'spec.node', operator: 'In', values: ['n1'] },
          ],
        },
        labelSelector: {
          requirements: [
            { key: 'app', operator: 'In', values: ['api', 'web'] },
            { key: 'legacy', operator: 'DoesNotExist' },
          ],
        },
      });
    });
  });

  describe('edge cases', () => {
    it('an error alongside Allow is ignored (Go: allowed requests pass)', async () => {
      const s = await setup({
        authorize: {
          authorizer: authorizerFunc(async () => ({
            decision: Decision.Allow,
            reason: '',
            error: new KdaError('ERR_KDA_REVIEW_FAILED', 'ignored'),
          })),
        },
      });
      try {
        expect(await get(s, anonymous, `${W}/fischers`)).to.include({ status: 200, body: 'ok' });
      } finally {
        await s.server.close();
        await s.authorizer.close();
      }
    });

    it('authorize() without requestInfo(): 500 no RequestInfo found in the context', async () => {
      const s = await setup({ noRequestInfo: true });
      try {
        const r = await get(s, anonymous, '/healthz');
        expect(r.status).to.equal(500);
        expect(r.body).to.equal('Internal Server Error: "/healthz": no RequestInfo found in the context\n');
      } finally {
        await s.server.close();
        await s.authorizer.close();
      }
    });
    it('authorize() without an authorizer throws at wiring time', () => {
      expect(() => authorize({} as AuthorizeOptions)).to.throw(TypeError, '"authorizer" must implement authorize');
    });
  });
});
