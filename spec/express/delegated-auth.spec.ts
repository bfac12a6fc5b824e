import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { expect } from 'chai';
import express, { type Express } from 'express';
import type { RequestAttributes } from '../../lib/authz/interfaces.js';
import {
  authenticate,
  authorize,
  delegatedAuth,
  delegatedAuthLocals,
  requestInfo,
} from '../../lib/express/delegated-auth.js';
import { unauthorizedBody } from '../../lib/http/status.js';
import { staticCABundle } from '../../lib/trust/static.js';
import { recordingAuthorizer } from '../authz/fixtures.js';
import { adapterSpecFixture, startTlsServer, type TestTlsServer } from '../support/tls-server.js';

const W = '/apis/wardle.example.com/v1alpha1';

describe('express adapter', () => {
  const { pki, anonymous, alice, servers, get } = adapterSpecFixture();

  async function serve(app: Express): Promise<TestTlsServer> {
    const s = await startTlsServer(app);
    servers.push(s);
    return s;
  }

  it('separate requestInfo() / authenticate() / authorize(): res.locals carries the Koa ctx.state names', async () => {
    const rec = recordingAuthorizer(() => true);
    const app = express();
    app.use(requestInfo(), authenticate({ clientCA: staticCABundle(pki.clientCA.certPem) }));
    app.use(authorize({ authorizer: rec.authorizer }));
    app.use((_req, res) => {
      const l = delegatedAuthLocals(res);
      res.json({
        user: l.user?.name,
        authenticator: l.authenticator,
        resource: l.requestInfo?.resource,
        verb: l.attributes?.verb,
        decision: l.authorization?.decision,
      });
    });
    const s = await serve(app);
    const r = await get(s, `${W}/namespaces/ns1/flunders/x`, alice);
    expect(r.status).to.equal(200);
    expect(JSON.parse(r.body)).to.deep.equal({
      user: 'alice',
      authenticator: 'x509',
      resource: 'flunders',
      verb: 'get',
      decision: 'Allow',
    });
  });

  it('authenticate() alone (no authorization): anonymous reaches the handler; anonymous off → the 401 body', async () => {
    const app = express();
    app.use('/open', authenticate(), (_req, res) => void res.send(delegatedAuthLocals(res).user?.name));
    app.use(
      '/closed',
      authenticate({ anonymous: false, clientCA: staticCABundle(pki.clientCA.certPem) }),
      (_req, res) => res.send('never'),
    );
    const s = await serve(app);
    expect(await get(s, '/open/x')).to.include({ status: 200, body: 'system:anonymous' });
    const closed = await get(s, '/closed/x');
    expect(closed).to.include({ status: 401, body: unauthorizedBody });
    expect(closed.headers['content-type']).to.equal('application/json');
    expect(closed.headers.etag, 'no Express ETag on refusals').to.equal(undefined);
  });

  it('authorize() without requestInfo(): 500 "no RequestInfo found in the context"', async () => {
    const app = express();
    app.use(authenticate(), authorize({ authorizer: recordingAuthorizer(() => true).authorizer }));
    app.use((_req, res) => res.send('never'));
    const s = await serve(app);
    const r = await get(s, '/x');
    expect(r).to.include({
      status: 500,
      body: 'Internal Server Error: "/x": no RequestInfo found in the context\n',
    });
  });

  it('mounted under a path: RequestInfo and the 403 message use the original URL, not the mount-relative one', async () => {
    const rec = recordingAuthorizer(() => false);
    const router = express.Router();
    router.use(delegatedAuth({ authorizer: rec.authorizer }));
    router.use((_req, res) => res.send('never'));
    const app = express();
    app.use('/apis', router);
    const s = await serve(app);
    const r = await get(s, '/apis/wardle.example.com/v1alpha1/fischers');
    expect(r.status).to.equal(403);
    expect(JSON.parse(r.body).message).to.equal(
      'fischers.wardle.example.com is forbidden: User "system:anonymous" cannot list resource "fischers" in API group "wardle.example.com" at the cluster scope: nope',
    );
    expect(rec.seen[0]).to.include({ resource: 'fischers', apiGroup: 'wardle.example.com', verb: 'list' });
  });

  it('res.locals.authorizationOverride set by an earlier middleware replaces the computed attributes', async () => {
    const rec = recordingAuthorizer((a) => a.resource === 'metrics' && a.verb === 'get');
    const app = express();
    app.use('/metrics', (_req, res, next) => {
      delegatedAuthLocals(res).authorizationOverride = {
        verb: 'get',
        resource: 'metrics',
        apiGroup: '',
        resourceRequest: true,
      };
      next();
    });
    app.use(delegatedAuth({ authorizer: rec.authorizer }));
    app.use((_req, res) => res.send('ok'));
    const s = await serve(app);
    expect(await get(s, '/metrics')).to.include({ status: 200, body: 'ok' });
    expect(rec.seen[0]).to.include({ resource: 'metrics', resourceRequest: true, path: '/metrics' });
    expect((await get(s, '/other')).status).to.equal(403);
  });

  it('the attributes option sees the Express request', async () => {
    const rec = recordingAuthorizer(() => true);
    const app = express();
    app.use(
      delegatedAuth({
        authorizer: rec.authorizer,
        attributes: (req, d) => ({ ...d, namespace: String(req.headers['x-tenant'] ?? '') }),
      }),
    );
    app.use((_req, res) => res.send('ok'));
    const s = await serve(app);
    const res = await anonymous.request({
      origin: s.url,
      path: `${W}/flunders`,
      method: 'GET',
      headers: { 'x-tenant': 't1' },
    });
    await res.body.text();
    expect(rec.seen[0]!.namespace).to.equal('t1');
  });

  it('publishes authorization events on the shared kube-delegated-auth:authz channel', async () => {
    const events: { result: string; attributes: RequestAttributes }[] = [];
    const onEvent = (m: unknown) => void events.push(m as (typeof events)[number]);
    subscribe('kube-delegated-auth:authz', onEvent);
    try {
      const app = express();
      app.use(delegatedAuth({ authorizer: recordingAuthorizer((a) => a.path === '/yes').authorizer }));
      app.use((_req, res) => res.send('ok'));
      const s = await serve(app);
      await get(s, '/yes');
      await get(s, '/no');
    } finally {
      unsubscribe('kube-delegated-auth:authz', onEvent);
    }
    expect(events.map((e) => [e.attributes.path, e.result])).to.deep.equal([
      ['/yes', 'allowed'],
      ['/no', 'no-opinion'],
    ]);
  });

  it('invalid options throw at construction', () => {
    expect(() => authorize({} as never)).to.throw(TypeError, /"authorizer" must implement authorize/);
    expect(() => delegatedAuth({ authorizer: {} as never })).to.throw(TypeError, /"authorizer" must implement/);
    expect(() =>
      delegatedAuth({ authorizer: recordingAuthorizer(() => true).authorizer, attributes: 'x' as never }),
    ).to.throw(TypeError, /"attributes" must be a function/);
    expect(() => authenticate({ authenticator: {} as never })).to.throw(TypeError, /authenticateRequest/);
  });
});
