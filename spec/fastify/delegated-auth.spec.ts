import { expect } from 'chai';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  fastifyDelegatedAuth,
  kubeAuthOf,
  kubeErrorHandler,
  kubeFrameworkErrors,
} from '../../lib/fastify/delegated-auth.js';
import { unauthorizedBody } from '../../lib/http/status.js';
import { staticCABundle } from '../../lib/trust/static.js';
import { recordingAuthorizer } from '../authz/fixtures.js';
import { startFastifyTls } from '../support/adapters.js';
import { adapterSpecFixture, type TestTlsServer } from '../support/tls-server.js';

const W = '/apis/wardle.example.com/v1alpha1';

/** A Fastify app served by the test's HTTPS server (Fastify contributes its request handler). */
function serve(
  setup: (app: FastifyInstance) => Promise<void>,
  opts: { frameworkErrors?: boolean } = {},
): Promise<TestTlsServer> {
  return startFastifyTls(setup, opts.frameworkErrors ? { frameworkErrors: kubeFrameworkErrors } : {});
}

describe('fastify adapter', () => {
  const { pki, alice, servers, get } = adapterSpecFixture();

  it('request.kubeAuth carries user, requestInfo, attributes and the decision', async () => {
    const s = await serve(async (app) => {
      await app.register(fastifyDelegatedAuth, {
        clientCA: staticCABundle(pki.clientCA.certPem),
        authorizer: recordingAuthorizer(() => true).authorizer,
      });
      app.get('/apis/*', async (request) => ({
        user: request.kubeAuth?.user.name,
        authenticator: request.kubeAuth?.authenticator,
        resource: request.kubeAuth?.requestInfo.resource,
        verb: request.kubeAuth?.attributes?.verb,
        decision: request.kubeAuth?.authorization?.decision,
      }));
    });
    servers.push(s);
    const r = await get(s, `${W}/namespaces/ns/flunders`, alice);
    expect(r.status).to.equal(200);
    expect(JSON.parse(r.body)).to.deep.equal({
      user: 'alice',
      authenticator: 'x509',
      resource: 'flunders',
      verb: 'list',
      decision: 'Allow',
    });
  });

  it('kubeAuthOf(request): the non-null state on a guarded route; a route outside the plugin fails closed (500)', async () => {
    const s = await serve(async (app) => {
      app.setErrorHandler(kubeErrorHandler());
      await app.register(async (guarded) => {
        // Encapsulated on purpose: the plugin guards only this child context.
        await guarded.register(async (inner) => {
          await inner.register(fastifyDelegatedAuth, { clientCA: staticCABundle(pki.clientCA.certPem) });
          inner.get('/guarded', async (request) => ({ user: kubeAuthOf(request).user.name }));
        });
      });
      app.get('/unguarded', async (request) => ({ user: kubeAuthOf(request).user.name }));
    });
    servers.push(s);
    const ok = await get(s, '/guarded', alice);
    expect(ok.status).to.equal(200);
    expect(JSON.parse(ok.body)).to.deep.equal({ user: 'alice' });
    const outside = await get(s, '/unguarded', alice);
    expect(outside.status).to.equal(500);
    expect(outside.body).to.not.contain('alice');
    expect(outside.body).to.not.contain('kubeAuth');
  });

  it('not encapsulated: guards routes registered in sibling and child plugins too', async () => {
    const s = await serve(async (app) => {
      await app.register(fastifyDelegatedAuth, { anonymous: false, clientCA: staticCABundle(pki.clientCA.certPem) });
      await app.register(async (child) => {
        child.get('/child', async () => 'child route ran');
      });
    });
    servers.push(s);
    const r = await get(s, '/child');
    expect(r).to.include({ status: 401, body: unauthorizedBody });
    expect(r.headers['content-type'], 'no "; charset=utf-8" appended').to.equal('application/json');
    expect(await get(s, '/child', alice)).to.include({ status: 200, body: 'child route ran' });
  });

  it('without an authorizer only authenticates; unmatched routes still get Fastify 404 after authentication', async () => {
    const s = await serve(async (app) => {
      await app.register(fastifyDelegatedAuth, {});
      app.get('/who', async (request) => request.kubeAuth?.user.name);
    });
    servers.push(s);
    expect(await get(s, '/who')).to.include({ status: 200, body: 'system:anonymous' });
    expect((await get(s, '/nothing')).status).to.equal(404);
  });

  it('attributes and authorizationOverride options see the Fastify request', async () => {
    const rec = recordingAuthorizer((a) => a.resource === 'metrics');
    const s = await serve(async (app) => {
      await app.register(fastifyDelegatedAuth, {
        authorizer: rec.authorizer,
        attributes: (request, d) => ({ ...d, namespace: String(request.headers['x-tenant'] ?? 'none') }),
        authorizationOverride: (request) =>
          request.url.startsWith('/metrics') ? { verb: 'get', resource: 'metrics', resourceRequest: true } : undefined,
      });
      app.get('/metrics', async () => 'm');
      app.get('/other', async () => 'o');
    });
    servers.push(s);
    expect(await get(s, '/metrics')).to.include({ status: 200, body: 'm' });
    expect(rec.seen[0]).to.include({ resource: 'metrics', namespace: 'none', path: '/metrics' });
    expect((await get(s, '/other')).status).to.equal(403);
  });

  it('malformed % escape: Fastify JSON 400 by default; kubeFrameworkErrors gives Go’s plain 400 and closes', async () => {
    const path = `${W}/namespaces/%zz/flunders`;
    const plain = await serve(async (app) => {
      await app.register(fastifyDelegatedAuth, {});
      app.get('/*', async () => 'never');
    });
    servers.push(plain);
    const def = await get(plain, path);
    expect(def.status).to.equal(400);
    expect(JSON.parse(def.body)).to.include({ code: 'FST_ERR_BAD_URL' });

    const goLike = await serve(
      async (app) => {
        await app.register(fastifyDelegatedAuth, {});
        app.get('/*', async () => 'never');
      },
      { frameworkErrors: true },
    );
    servers.push(goLike);
    const r = await get(goLike, path);
    expect(r).to.include({ status: 400, body: '400 Bad Request' });
    expect(r.headers.connection).to.equal('close');
  });
});

describe('fastify adapter: plugin metadata as fastify-plugin sets it', () => {
  const meta = (fastifyDelegatedAuth as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')];

  it('declares its name and the Fastify majors it supports', () => {
    expect(meta).to.deep.equal({ name: 'kube-delegated-auth', fastify: '4.x || 5.x' });
  });

  it('is known to Fastify by name: hasPlugin() and a dependent plugin load, the hook is not encapsulated', async () => {
    const app = Fastify();
    try {
      await app.register(fastifyDelegatedAuth, {
        authenticator: { authenticateRequest: async () => ({ ok: false as const }) },
      } as never);
      const dependent = Object.assign(async () => {}, {
        [Symbol.for('skip-override')]: true,
        [Symbol.for('plugin-meta')]: { name: 'needs-kube-auth', dependencies: ['kube-delegated-auth'] },
      });
      await app.register(dependent);
      await app.ready();
      expect(app.hasPlugin('kube-delegated-auth')).to.equal(true);
      expect(app.hasRequestDecorator('kubeAuth')).to.equal(true);
    } finally {
      await app.close();
    }
  });

  it('a dependent plugin without it registered is refused by Fastify (the name is what it checks)', async () => {
    const app = Fastify();
    const dependent = Object.assign(async () => {}, {
      [Symbol.for('skip-override')]: true,
      [Symbol.for('plugin-meta')]: { name: 'needs-kube-auth', dependencies: ['kube-delegated-auth'] },
    });
    void app.register(dependent);
    const err = await app.ready().then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    expect(err?.code).to.equal('FST_ERR_PLUGIN_DEPENDENCY_NOT_REGISTERED');
    await app.close().catch(() => undefined);
  });
});
