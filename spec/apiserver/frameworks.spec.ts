// The blocks mounted in Koa, Express and Fastify as examples/apiserver-frameworks.ts shows, each on a real socket:
// every framework answers byte for byte what plain node:http (serveBlocks) answers — status, body and the headers
// that matter — and passes what no block serves on to its own routes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { request } from 'undici';
import { serveBlocks } from '../../lib/apiserver/index.js';
import { blocks, mountOnExpress, mountOnFastify, mountOnKoa } from '../../examples/apiserver-frameworks.js';

const v2Accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const cases: { path: string; headers?: Record<string, string>; method?: 'GET' | 'HEAD' | 'POST' }[] = [
  { path: '/readyz' },
  { path: '/readyz?verbose&exclude=nope' },
  { path: '/livez/ping' },
  { path: '/apis' },
  { path: '/apis', headers: { accept: v2Accept } },
  { path: '/apis', headers: { accept: 'application/yaml' } },
  { path: '/apis/sample.example.com/v1alpha1' },
  { path: '/apis/sample.example.com/v1alpha1', method: 'POST' },
  { path: '/openapi/v3' },
  { path: '/openapi/v2', headers: { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' } },
];
const compared = ['content-type', 'vary', 'etag', 'x-content-type-options', 'cache-control'];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function fetchAll(base: string) {
  const out = [];
  for (const c of cases) {
    const res = await request(base + c.path, { method: c.method ?? 'GET', headers: c.headers ?? {} });
    const headers = Object.fromEntries(compared.map((h) => [h, res.headers[h]]));
    out.push({
      case: `${c.method ?? 'GET'} ${c.path} ${c.headers?.accept ?? ''}`,
      status: res.statusCode,
      headers,
      body: await res.body.text(),
    });
  }
  return out;
}

describe('apiserver blocks in Koa, Express and Fastify (examples/apiserver-frameworks.ts)', () => {
  let reference: Awaited<ReturnType<typeof fetchAll>>;
  const servers: Server[] = [];
  const fallthrough = { status: 418, body: 'your route' };

  before(async () => {
    const serve = serveBlocks(blocks);
    const node = createServer((req, res) => {
      void serve(req, res).then((served) => served || res.writeHead(fallthrough.status).end(fallthrough.body));
    });
    servers.push(node);
    reference = await fetchAll(await listen(node));
    expect(reference.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200, 406, 200, 405, 200, 406]);
  });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('Koa answers as node:http does, and passes other paths to its routes', async () => {
    const app = new Koa();
    mountOnKoa(app);
    app.use((ctx) => {
      ctx.status = fallthrough.status;
      ctx.body = fallthrough.body;
    });
    const server = createServer(app.callback());
    servers.push(server);
    const base = await listen(server);
    expect(await fetchAll(base)).to.deep.equal(reference);
    const other = await request(`${base}/apis/sample.example.com/v1alpha1/namespaces/x/widgets`);
    expect([other.statusCode, await other.body.text()]).to.deep.equal([418, 'your route']);
  });

  it('Express answers as node:http does, and passes other paths to its routes', async () => {
    const app = express();
    mountOnExpress(app);
    app.use((_req, res) => {
      res.status(fallthrough.status).send(fallthrough.body);
    });
    const server = createServer(app);
    servers.push(server);
    const base = await listen(server);
    expect(await fetchAll(base)).to.deep.equal(reference);
    const other = await request(`${base}/healthz/nope`);
    expect([other.statusCode, await other.body.text()]).to.deep.equal([418, 'your route']);
  });

  it('Fastify answers as node:http does, and passes other paths to its routes', async () => {
    const app = Fastify();
    mountOnFastify(app);
    app.all('/*', async (_request, reply) => reply.code(fallthrough.status).send(fallthrough.body));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = app.server.address() as AddressInfo;
      const base = `http://127.0.0.1:${address.port}`;
      expect(await fetchAll(base)).to.deep.equal(reference);
      const other = await request(`${base}/api/v1`);
      expect([other.statusCode, await other.body.text()]).to.deep.equal([418, 'your route']);
    } finally {
      await app.close();
    }
  });
});
