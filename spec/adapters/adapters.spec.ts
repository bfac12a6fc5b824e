import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { expect } from 'chai';
import type { Agent } from 'undici';
import { startAdapter, type AdapterView } from '../support/adapters.js';
import { testPki } from '../support/pki.js';
import { clientAgent, type TestTlsServer } from '../support/tls-server.js';
import {
  adapterCases,
  adapterOptions,
  identityHeaderLines,
  pickHeaders,
  W,
  type ClientIdentity,
  type Echo,
} from './table.js';

/** The handler every adapter ends in: echoes what it was given and which identity headers it can still see. */
function echo({ req, res, state }: AdapterView): void {
  const headerObjectLeft = Object.keys(req.headers).filter((n) => n === 'authorization' || n.startsWith('x-remote-'));
  const body: Echo = {
    user: state.user!,
    authenticator: state.authenticator!,
    identityHeaders: [...identityHeaderLines(req.rawHeaders), ...headerObjectLeft.map((n) => `headers.${n}`)],
  };
  // Koa presets 404 until a body is set; this handler bypasses Koa's response.
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

/** Koa's requestInfo() + authenticate() + authorize() is the reference the other three are compared with. */
const adapters: readonly { name: string; start: () => Promise<TestTlsServer> }[] = (
  [
    ['koa (reference)', 'koa-steps'],
    ['express delegatedAuth()', 'express'],
    ['fastify plugin', 'fastify'],
    ['node:http withDelegatedAuth()', 'node-http'],
  ] as const
).map(([name, kind]) => ({ name, start: () => startAdapter(kind, adapterOptions(), echo) }));

describe('adapters: one authentication/authorization table over HTTPS', () => {
  const pki = testPki();
  const agents: Record<ClientIdentity, Agent> = {
    none: clientAgent(),
    proxy: clientAgent(pki.proxy),
    proxyOtherCN: clientAgent(pki.proxyOtherCN),
    alice: clientAgent(pki.alice),
  };
  after(async () => {
    await Promise.all(Object.values(agents).map((a) => a.close()));
  });

  for (const adapter of adapters) {
    describe(adapter.name, () => {
      let server: TestTlsServer;
      before(async () => {
        server = await adapter.start();
      });
      after(async () => {
        await server?.close();
      });

      it('publishes the same kube-delegated-auth:authn and :authz diagnostics events as Koa', async () => {
        const events: string[] = [];
        const onAuthn = (m: unknown) => {
          const e = m as { result: string; authenticator?: string; peerCertificates?: readonly unknown[] };
          events.push(`authn ${e.result} ${e.authenticator ?? '-'} certs=${e.peerCertificates?.length}`);
        };
        const onAuthz = (m: unknown) => {
          const e = m as { result: string; attributes: { path: string } };
          events.push(`authz ${e.result} ${e.attributes.path}`);
        };
        subscribe('kube-delegated-auth:authn', onAuthn);
        subscribe('kube-delegated-auth:authz', onAuthz);
        try {
          for (const [agent, path, headers] of [
            [agents.proxy, `${W}/namespaces/default/flunders`, ['X-Remote-User', 'alice']],
            [agents.proxyOtherCN, '/whoami', ['X-Remote-User', 'alice']],
            [agents.none, '/metrics', []],
          ] as const) {
            const res = await agent.request({ origin: server.url, path, method: 'GET', headers: [...headers] });
            await res.body.text();
          }
        } finally {
          unsubscribe('kube-delegated-auth:authn', onAuthn);
          unsubscribe('kube-delegated-auth:authz', onAuthz);
        }
        expect(events).to.deep.equal([
          'authn success requestheader certs=1',
          `authz allowed ${W}/namespaces/default/flunders`,
          'authn error - certs=1',
          'authn success anonymous certs=0',
          'authz no-opinion /metrics',
        ]);
      });

      for (const c of adapterCases) {
        it(c.name, async () => {
          const res = await agents[c.client].request({
            origin: server.url,
            path: c.path,
            method: c.method ?? 'GET',
            headers: (c.headers ?? []).flat(),
          });
          const text = await res.body.text();
          expect(res.statusCode, text).to.equal(c.status);
          if (c.body !== undefined) expect(text).to.equal(c.body);
          if (c.echo) expect(JSON.parse(text)).to.deep.equal(c.echo);
          if (c.responseHeaders) {
            const names = Object.keys(c.responseHeaders);
            expect(pickHeaders(res.headers, names)).to.deep.equal(c.responseHeaders);
          }
        });
      }
    });
  }
});
