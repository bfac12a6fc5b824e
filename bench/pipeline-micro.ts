// INTERNALS: the shared pipeline (lib/http/pipeline's delegatedAuthPipeline().run, what the Express, Fastify and
// node:http adapters call per request) timed in one process, front-proxy identity, SAR cached. Per-request µs of ours,
// without the framework and the network.  Usage: npx tsx bench/pipeline-micro.ts [iterations] [rounds]
import { X509Certificate } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { delegatedAuthPipeline } from '../lib/http/pipeline.js';
import { withDelegatedAuth } from '../lib/node-http/index.js';
import {
  cachedTokenAuthenticator,
  newDelegatingAuthenticator,
  newDelegatingAuthorizer,
  staticCABundle,
  staticRequestHeaderConfig,
} from '../lib/index.js';
import { createBenchPki } from './pki.js';
import { flundersPath } from './scenarios/common.js';

const n = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);
const pki = createBenchPki();
const leaf = new X509Certificate(pki.frontProxyClient.cert!);
const socket = { encrypted: true, getPeerX509Certificate: () => leaf, isSessionReused: () => false };
const raw = [
  'host',
  '127.0.0.1:8443',
  'x-remote-user',
  'bench-user',
  'x-remote-group',
  'bench:allowed',
  'x-remote-group',
  'system:authenticated',
  'accept',
  '*/*',
];
// A client-certificate user on its own keep-alive "socket": the union tries the front-proxy verifier first (refused
// for this CA), then the x509 authenticator accepts.
const userLeaf = new X509Certificate(pki.x509User.cert!);
const userSocket = { encrypted: true, getPeerX509Certificate: () => userLeaf, isSessionReused: () => false };
function newUserReq(): IncomingMessage {
  const req = new IncomingMessage(userSocket as never);
  req.method = 'GET';
  req.url = flundersPath;
  req.rawHeaders = ['host', '127.0.0.1:8443', 'accept', '*/*'];
  req.headers = { host: '127.0.0.1:8443', accept: '*/*' };
  req.headersDistinct = { host: ['127.0.0.1:8443'], accept: ['*/*'] };
  return req;
}
// A bearer-token user without a client certificate (the union asks both certificate authenticators first).
const plainSocket = { encrypted: true, getPeerX509Certificate: () => undefined, isSessionReused: () => false };
function newTokenReq(): IncomingMessage {
  const req = new IncomingMessage(plainSocket as never);
  req.method = 'GET';
  req.url = flundersPath;
  req.rawHeaders = ['host', '127.0.0.1:8443', 'authorization', 'Bearer bench-token', 'accept', '*/*'];
  req.headers = { host: '127.0.0.1:8443', authorization: 'Bearer bench-token', accept: '*/*' };
  req.headersDistinct = { host: ['127.0.0.1:8443'], authorization: ['Bearer bench-token'], accept: ['*/*'] };
  return req;
}
function newReq(): IncomingMessage {
  const req = new IncomingMessage(socket as never);
  req.method = 'GET';
  req.url = flundersPath;
  req.rawHeaders = raw.slice();
  req.headers = {
    host: '127.0.0.1:8443',
    'x-remote-user': 'bench-user',
    'x-remote-group': 'bench:allowed, system:authenticated',
    accept: '*/*',
  };
  req.headersDistinct = {
    host: ['127.0.0.1:8443'],
    'x-remote-user': ['bench-user'],
    'x-remote-group': ['bench:allowed', 'system:authenticated'],
    accept: ['*/*'],
  };
  return req;
}
const caProvider = staticCABundle(readFileSync(pki.requestheaderClientCaFile), 'requestheader-client-ca');
const configProvider = staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] });
// The token reviews stand in for kube-apiserver's (only the first request of the run reaches them: cached after).
const tokens = cachedTokenAuthenticator(
  {
    authenticateToken: async () => ({
      ok: true,
      user: { name: 'token-user', uid: '', groups: ['bench:allowed'], extra: {} },
      authenticator: 'tokenreview',
    }),
  },
  { authenticationTokenWebhookCacheTtl: 3_600_000 },
);
const authenticator = newDelegatingAuthenticator({
  requestHeader: { caProvider, configProvider },
  clientCA: staticCABundle(readFileSync(pki.clientCaFile), 'client-ca'),
  tokenAuthenticator: tokens,
});
const authorizer = newDelegatingAuthorizer({
  client: { create: () => Promise.resolve({ allowed: true }) } as never,
  authorizationWebhookCacheAuthorizedTtl: 3_600_000,
});
const pipeline = delegatedAuthPipeline({ authenticator, authorizer, requestHeader: { caProvider, configProvider } });
const first = await pipeline.run(newReq(), undefined, flundersPath);
if (!first.ok) throw new Error(`refused: ${JSON.stringify(first)}`);
const firstUser = await pipeline.run(newUserReq(), undefined, flundersPath);
if (!firstUser.ok || firstUser.state.authenticator !== 'x509') {
  throw new Error(`client-certificate user refused: ${JSON.stringify(firstUser)}`);
}
const firstToken = await pipeline.run(newTokenReq(), undefined, flundersPath);
if (!firstToken.ok || firstToken.state.authenticator !== 'tokenreview') {
  throw new Error(`bearer-token user refused: ${JSON.stringify(firstToken)}`);
}
let done: () => void = () => {};
const listener = withDelegatedAuth(
  (_req, res) => {
    res.statusCode = 200;
    done();
  },
  { authenticator, authorizer, requestHeader: { caProvider, configProvider } },
);
function viaNodeHttp(): Promise<void> {
  const req = newReq();
  return new Promise<void>((resolve) => {
    done = resolve;
    listener(req, new ServerResponse(req));
  });
}
async function loop(op: () => unknown): Promise<number> {
  // CPU time of this process, not wall time: on a shared machine the wall clock also counts other processes' turns.
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) await op();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / n;
}
for (let i = 0; i < 20_000; i++) await pipeline.run(newReq(), undefined, flundersPath);
const base: number[] = [];
const full: number[] = [];
const adapter: number[] = [];
const adapterBase: number[] = [];
const x509: number[] = [];
const token: number[] = [];
for (let r = 0; r < rounds; r++) {
  base.push(await loop(newReq));
  full.push(await loop(() => pipeline.run(newReq(), undefined, flundersPath)));
  adapterBase.push(
    await loop(
      () =>
        new Promise<void>((r) => {
          const q = newReq();
          new ServerResponse(q);
          r();
        }),
    ),
  );
  adapter.push(await loop(viaNodeHttp));
  x509.push(await loop(() => pipeline.run(newUserReq(), undefined, flundersPath)));
  token.push(await loop(() => pipeline.run(newTokenReq(), undefined, flundersPath)));
}
// The least disturbed round.
const med = (a: number[]) => Math.min(...a);
console.log(
  `pipeline.run ${(med(full) - med(base)).toFixed(2)} µs/request (best of ${rounds} rounds, CPU time; harness ${med(base).toFixed(2)} µs subtracted)`,
);
console.log(
  `withDelegatedAuth (node:http) ${(med(adapter) - med(adapterBase)).toFixed(2)} µs/request (harness ${med(adapterBase).toFixed(2)} µs subtracted)`,
);
console.log(`pipeline.run, client-certificate user ${(med(x509) - med(base)).toFixed(2)} µs/request`);
console.log(`pipeline.run, cached bearer token ${(med(token) - med(base)).toFixed(2)} µs/request`);
pki.close();
