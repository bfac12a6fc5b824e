import { expect } from 'chai';
import Koa from 'koa';
import { reviewWebhookMiddleware } from '../../lib/webhook/koa.js';
import { tokenReviewWebhook } from '../../lib/webhook/token-review-webhook.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';
import { post, type Served } from './helpers.js';

const webhook = tokenReviewWebhook({
  verify: async (token) =>
    token === 'good'
      ? { authenticated: true, user: { username: 'koa-user', groups: ['g'] } }
      : { authenticated: false },
});
const review = (token: string) => ({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });

async function serveKoa(app: Koa): Promise<Served & { server: TestTlsServer }> {
  app.silent = true;
  const server = await startTlsServer(app.callback());
  const agent = clientAgent();
  return { url: server.url, agent, server, close: async () => (await agent.close(), await server.close()) };
}

describe('webhook/koa reviewWebhookMiddleware options.path=/authenticate', () => {
  let served: Served;
  before(async () => {
    const app = new Koa();
    app.use(reviewWebhookMiddleware(webhook, { path: '/authenticate' }));
    app.use((ctx) => {
      ctx.status = 404;
      ctx.body = 'fallthrough';
    });
    served = await serveKoa(app);
  });
  after(() => served.close());

  it('should answer a TokenReview on its path', async () => {
    const res = await post(served, review('good'), { path: '/authenticate' });
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('application/json');
    expect(res.json?.status).to.deep.equal({ authenticated: true, user: { username: 'koa-user', groups: ['g'] } });
  });

  it('should answer "no" with 200', async () => {
    const res = await post(served, review('bad'), { path: '/authenticate' });
    expect(res.status).to.equal(200);
    expect(res.json?.status).to.deep.equal({ authenticated: false });
  });

  it('should keep the Status body and type of an error', async () => {
    const res = await post(served, undefined, { path: '/authenticate', raw: '{' });
    expect(res.status).to.equal(400);
    expect(res.headers['content-type']).to.equal('application/json');
    expect(res.json).to.include({ kind: 'Status', reason: 'BadRequest' });
  });

  it('should pass other paths to next', async () => {
    const res = await post(served, review('good'), { path: '/other' });
    expect(res.status).to.equal(404);
    expect(res.text).to.equal('fallthrough');
  });
});

describe('webhook/koa reviewWebhookMiddleware after a body parser', () => {
  let served: Served;
  before(async () => {
    const app = new Koa();
    app.use(async (ctx, next) => {
      for await (const _ of ctx.req) void _;
      await next();
    });
    app.use(reviewWebhookMiddleware(webhook));
    served = await serveKoa(app);
  });
  after(() => served.close());

  it('should answer 500 naming the consumed body, never a verdict', async () => {
    const res = await post(served, review('good'));
    expect(res.status).to.equal(500);
    expect(res.json?.message).to.match(/already consumed/);
  });
});

describe('webhook/koa reviewWebhookMiddleware wiring', () => {
  it('should throw at wiring time for a non-webhook', () => {
    expect(() => reviewWebhookMiddleware({} as never)).to.throw(TypeError);
  });
});
