// INTERNALS benchmark, not what users run: per-layer microbenchmarks of the request path (no network), each layer
// imported from its own lib/ module and timed alone in one process, so neighbours on a shared machine shift every
// line alike. What users run is measured by the `adapters` scenario (bench/servers/adapter.ts, public entries only).
// Usage: npx tsx bench/micro.ts [iterations]
import { X509Certificate } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { UserInfo } from '../lib/authn/interfaces.js';
import { newDelegatingAuthenticator } from '../lib/authn/delegating.js';
import { secureRequestHeaderAuthenticator } from '../lib/authn/request-header.js';
import { alwaysAllowGroupsAuthorizer } from '../lib/authz/always-allow-groups.js';
import { alwaysAllowPathsAuthorizer } from '../lib/authz/always-allow-paths.js';
import type { RequestAttributes } from '../lib/authz/interfaces.js';
import { subjectAccessReviewAuthorizer, subjectAccessReviewCacheKey } from '../lib/authz/subject-access-review.js';
import { unionAuthorizers } from '../lib/authz/union.js';
import { authorizerAttributes, resolveRequestInfo } from '../lib/http/request-info.js';
import { forbidden } from '../lib/http/status.js';
import { stripIdentityHeaders, toAuthnRequest } from '../lib/http/request.js';
import { certificateFields } from '../lib/trust/certificate-fields.js';
import { staticCABundle, staticRequestHeaderConfig } from '../lib/trust/static.js';
import { createBenchPki } from './pki.js';
import { flundersPath } from './scenarios/common.js';

export interface MicroResult {
  readonly name: string;
  readonly usPerOp: number;
}

async function time(name: string, n: number, op: () => unknown): Promise<MicroResult> {
  const isAsync = op() instanceof Promise;
  for (let i = 0; i < Math.min(n, 5000); i++) {
    const r = op();
    if (isAsync) await r;
  }
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const r = op();
    if (isAsync) await r;
  }
  return { name, usPerOp: ((performance.now() - t) * 1000) / n };
}

export async function runMicro(n = 50_000): Promise<MicroResult[]> {
  const pki = createBenchPki();
  try {
    const leaf = new X509Certificate(pki.frontProxyClient.cert!);
    // A stable "socket": the per-connection verdict cache and peer-chain cache key on it, as on a keep-alive socket.
    const socket = { encrypted: true, getPeerX509Certificate: () => leaf, isSessionReused: () => false };
    const rawHeaders = [
      'host',
      '127.0.0.1',
      'x-remote-user',
      'bench-user',
      'x-remote-group',
      'bench:allowed',
      'x-remote-group',
      'system:authenticated',
    ];
    const newReq = () => {
      const req = new IncomingMessage(socket as never);
      req.method = 'GET';
      req.url = flundersPath;
      req.rawHeaders = rawHeaders.slice();
      // The parser normally fills these; a hand-made IncomingMessage has a header count of 0.
      req.headers = {
        host: '127.0.0.1',
        'x-remote-user': 'bench-user',
        'x-remote-group': 'bench:allowed, system:authenticated',
      };
      req.headersDistinct = {
        host: ['127.0.0.1'],
        'x-remote-user': ['bench-user'],
        'x-remote-group': ['bench:allowed', 'system:authenticated'],
      };
      return req;
    };
    const caProvider = staticCABundle(readFileSync(pki.requestheaderClientCaFile), 'requestheader-client-ca');
    const configProvider = staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] });
    const rh = secureRequestHeaderAuthenticator({ caProvider, configProvider });
    const delegating = newDelegatingAuthenticator({
      requestHeader: { caProvider, configProvider },
      clientCA: staticCABundle(readFileSync(pki.clientCaFile), 'client-ca'),
    });
    const user: UserInfo = {
      name: 'bench-user',
      uid: '',
      groups: ['bench:allowed', 'system:authenticated'],
      extra: {},
    };
    const info = resolveRequestInfo('GET', flundersPath).info;
    const attrs: RequestAttributes = authorizerAttributes(user, info);
    const sar = subjectAccessReviewAuthorizer({
      client: { create: () => Promise.resolve({ allowed: true }) },
      authorizationWebhookCacheAuthorizedTtl: 3_600_000,
    });
    const union = unionAuthorizers(alwaysAllowGroupsAuthorizer(), alwaysAllowPathsAuthorizer(), sar);
    await sar.authorize(attrs);
    const check = await delegating.authenticateRequest(toAuthnRequest(newReq()));
    if (!check.ok)
      throw new Error(`micro: the delegating authenticator refused the bench request: ${JSON.stringify(check)}`);

    const out: MicroResult[] = [];
    out.push(await time('new IncomingMessage (harness baseline)', n, newReq));
    out.push(await time('toAuthnRequest + header reads', n, () => toAuthnRequest(newReq()).header('x-remote-group')));
    out.push(
      await time('stripIdentityHeaders', n, () => {
        const r = newReq();
        return stripIdentityHeaders(r, configProvider.current(), ['x-remote-user', 'x-remote-group']);
      }),
    );
    out.push(await time('certificateFields(leaf) (cached per cert)', n, () => certificateFields(leaf)));
    out.push(
      await time('requestheader authenticate (verdict cached)', n, () =>
        rh.authenticateRequest(toAuthnRequest(newReq())),
      ),
    );
    out.push(
      await time('delegating authenticator (union + group adder)', n, () =>
        delegating.authenticateRequest(toAuthnRequest(newReq())),
      ),
    );
    out.push(
      await time('resolveRequestInfo (list, ?resourceVersion=0)', n, () => resolveRequestInfo('GET', flundersPath)),
    );
    out.push(await time('SAR authorizer, cache hit', n, () => sar.authorize(attrs)));
    out.push(await time('authorizer union (groups, paths, SAR hit)', n, () => union.authorize(attrs)));
    out.push(
      await time('subjectAccessReviewCacheKey (the SAR cache key)', n, () => subjectAccessReviewCacheKey(attrs)),
    );
    out.push(await time('forbidden() 403 body', n, () => forbidden(attrs, 'no')));
    return out;
  } finally {
    pki.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await runMicro(Number(process.argv[2] ?? 50_000));
  for (const r of results) console.log(`${r.usPerOp.toFixed(2).padStart(8)} µs  ${r.name}`);
}
