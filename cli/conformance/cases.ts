import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import type { ConnectionConfig, RestClient } from 'kube-delegated-auth/cluster';
import { createCertificate } from 'kube-delegated-auth/dev-pki';
import { clientCertificateRequest, handshake, rawRequest, type ApiRequester, type RawResponse } from './http.js';
import type { ObjectTracker } from './objects.js';
import {
  issuedBy,
  kubeconfigClientCertificate,
  serviceAccountToken,
  subjectAccessAllowed,
  type BoundIdentities,
  type ClientCaCertificate,
  type CsrOutcome,
  type ProbeIdentity,
} from './setup.js';
import type { ProbeTarget } from './target.js';

export type ProbeOutcome = 'pass' | 'fail' | 'skip';

/** One case's result: what it checked (`rule`), the verdict, its evidence, and on failure how to fix it. */
export interface ProbeResult {
  readonly name: string;
  readonly rule: string;
  readonly outcome: ProbeOutcome;
  readonly detail: string;
  /** Present on failures only. */
  readonly hint?: string;
  readonly durationMs: number;
}

/** Everything a case may use; the setup steps run once, on first use. */
export interface ProbeContext {
  readonly target: ProbeTarget;
  readonly rest: RestClient;
  readonly api: ApiRequester;
  readonly connection: ConnectionConfig;
  readonly tracker: ObjectTracker;
  /** kube-apiserver minor version (e.g. 20), for features such as `Impersonate-Uid` (1.22+). */
  readonly serverMinor: number;
  identities(): Promise<BoundIdentities>;
  csrCertificate(): Promise<CsrOutcome>;
}

type Need = 'backend' | 'resource';

export interface ProbeCase {
  readonly name: string;
  /** The Kubernetes rule checked, one line. */
  readonly rule: string;
  /** How to fix the backend when the case fails. */
  readonly hint: string;
  readonly needs?: readonly Need[];
  run(ctx: ProbeContext): Promise<{ readonly outcome: ProbeOutcome; readonly detail: string }>;
}

/** Thrown by a case that cannot decide here; reported as skip with the reason, never as pass. */
export class ProbeSkip extends Error {}

const pass = (detail: string) => ({ outcome: 'pass' as const, detail });
const fail = (detail: string) => ({ outcome: 'fail' as const, detail });

const isOk = (s: number | undefined) => s !== undefined && s >= 200 && s < 300;

function show(r: RawResponse): string {
  if (r.status === undefined) return `no answer (${r.error})`;
  const body = r.body.replace(/\s+/g, ' ').trim();
  return `HTTP ${r.status}${body ? ` ${JSON.stringify(body.length > 120 ? `${body.slice(0, 120)}…` : body)}` : ''}`;
}

/** Refused: a TLS/connection refusal, 401 or 403. */
function refused(r: RawResponse): boolean {
  return r.status === undefined || r.status === 401 || r.status === 403;
}

function backend(ctx: ProbeContext) {
  return ctx.target.backend!;
}

function resourcePath(ctx: ProbeContext): string {
  return ctx.target.resource!.listPath;
}

/** Header lines naming `id` with the requestheader conventions (X-Remote-User, -Group, -Extra-, -Uid). */
function remoteHeaders(id: ProbeIdentity, prefix = 'X-Remote-'): [string, string][] {
  const h: [string, string][] = [[`${prefix}User`, id.user]];
  for (const g of id.groups) h.push([`${prefix}Group`, g]);
  for (const [k, vs] of Object.entries(id.extra)) for (const v of vs) h.push([`${prefix}Extra-${k}`, v]);
  if (id.uid) h.push([`${prefix}Uid`, id.uid]);
  return h;
}

/** A privileged identity to claim in spoofed headers: the run's RBAC-bound reader, plus system:masters. */
async function privileged(ctx: ProbeContext): Promise<ProbeIdentity> {
  const { reader } = await ctx.identities();
  return { ...reader, groups: [...reader.groups, 'system:masters'] };
}

function impersonation(id: ProbeIdentity, serverMinor: number): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = { 'impersonate-user': id.user };
  if (id.groups.length > 0) h['impersonate-group'] = [...id.groups];
  for (const [k, vs] of Object.entries(id.extra)) h[`impersonate-extra-${k}`] = [...vs];
  if (id.uid && serverMinor >= 22) h['impersonate-uid'] = id.uid;
  return h;
}

/**
 * A request through the aggregator as `id`. kube-apiserver's own refusal to impersonate is the tool's problem, not
 * the backend's: it becomes a skip with the reason.
 */
async function asUser(
  ctx: ProbeContext,
  id: ProbeIdentity,
  method: string,
  path: string,
  extraHeaders: Readonly<Record<string, string | readonly string[]>> = {},
  body?: unknown,
) {
  const r = await ctx.api.request(method, path, { ...impersonation(id, ctx.serverMinor), ...extraHeaders }, body);
  if (r.status === 403 && /cannot impersonate/.test(r.body)) {
    throw new ProbeSkip(`the kubeconfig's user may not impersonate: ${r.body.slice(0, 200)}`);
  }
  return r;
}

/** Health answers carry `ok`, check names and `reason withheld`, nothing else. */
export function isPlainHealthBody(body: string): boolean {
  const lines = body
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.every((l) =>
    /^(ok|\[\+\][\w.:/@-]+ ok|\[-\][\w.:/@-]+ failed: reason withheld|\[[+-]\][\w.:/@-]+ excluded: ok|(healthz|readyz|livez) check (passed|failed))$/i.test(
      l,
    ),
  );
}

const noSpoofHint =
  'authenticate X-Remote-* headers only on connections whose client certificate verifies against requestheader-client-ca-file AND whose CN is in requestheader-allowed-names (Go: request.NewRequestHeaderAuthenticator behind x509 verification); strip them otherwise';

function spoofCase(
  name: string,
  rule: string,
  build: (ctx: ProbeContext) => Promise<{ headers: [string, string][]; cert?: { certPem: string; keyPem: string } }>,
): ProbeCase {
  return {
    name,
    rule,
    hint: noSpoofHint,
    needs: ['backend', 'resource'],
    async run(ctx) {
      const { headers, cert } = await build(ctx);
      const r = await rawRequest(backend(ctx), resourcePath(ctx), { headers, ...(cert && { clientCert: cert }) });
      if (isOk(r.status))
        return fail(
          `GET ${resourcePath(ctx)} with ${headers.map((h) => h[0]).join(', ')} → ${show(r)}: the spoofed identity was honoured`,
        );
      if (refused(r)) return pass(`→ ${show(r)}`);
      return fail(`→ ${show(r)}: expected 401/403 (or a refused handshake)`);
    },
  };
}

let selfSigned: { certPem: string; keyPem: string } | undefined;
function selfSignedFrontProxyClient() {
  selfSigned ??= createCertificate({ commonName: 'front-proxy-client', extKeyUsage: ['clientAuth'] });
  return selfSigned;
}

function pathCase(label: string, target: (ctx: ProbeContext) => string): ProbeCase {
  return {
    name: `direct: path confusion (${label})`,
    rule: 'the authorizer must see the same path the router serves (Go: RequestInfo from the cleaned URL path; non-canonical paths are redirected or 404)',
    hint: 'derive RequestInfo and the route from one parsed, canonical path; refuse or redirect dot-segments, backslashes, encoded slashes and absolute-form targets before authorizing; never match always-allow paths by string prefix',
    needs: ['backend', 'resource'],
    async run(ctx) {
      const t = target(ctx);
      const r = await rawRequest(backend(ctx), t);
      if (isOk(r.status) && !isPlainHealthBody(r.body)) {
        return fail(`anonymous GET ${JSON.stringify(t)} → ${show(r)}: authorized as one path, served another`);
      }
      return pass(`anonymous GET ${JSON.stringify(t)} → ${show(r)}`);
    },
  };
}

function healthCase(path: string): ProbeCase {
  return {
    name: `direct: always-allow ${path} answers no data`,
    rule: 'always-allow paths (/healthz, /readyz, /livez) answer only ok or check names with "reason withheld" (Go healthz handlers)',
    hint: 'serve health endpoints with check names and ok/failed only; move diagnostics behind authorization',
    needs: ['backend'],
    async run(ctx) {
      const r = await rawRequest(backend(ctx), path);
      if (isOk(r.status) && !isPlainHealthBody(r.body)) return fail(`anonymous GET ${path} → ${show(r)}`);
      return pass(`anonymous GET ${path} → ${show(r)}`);
    },
  };
}

/** Every probe, in the order they run. */
export const probeCases: readonly ProbeCase[] = [
  {
    name: 'aggregator: discovery of the group-version',
    rule: "GET /apis/<group>/<version> through kube-apiserver returns the backend's APIResourceList",
    hint: 'the APIService must be Available: check `kubectl get apiservice <name> -o yaml` conditions, the Service, and the caBundle',
    async run(ctx) {
      const gv = `/apis/${ctx.target.group}/${ctx.target.version}`;
      const r = await ctx.api.request('GET', gv);
      const kind = (r.json as { kind?: string } | undefined)?.kind;
      if (r.status !== 200 || kind !== 'APIResourceList')
        return fail(`GET ${gv} → HTTP ${r.status} ${r.body.slice(0, 160)}`);
      const res = ctx.target.resource;
      return pass(
        `APIResourceList${res ? `; probe resource ${res.name}` : ', no listable resource (resource probes skipped)'}`,
      );
    },
  },
  {
    name: 'aggregator: impersonated user with RBAC (groups, extra, uid) is served',
    rule: 'the backend authorizes the user/groups/extra kube-apiserver forwards (X-Remote-*) through SubjectAccessReview',
    hint: 'read X-Remote-User/-Group/-Extra-* from the front proxy and send them unchanged in the SubjectAccessReview',
    needs: ['resource'],
    async run(ctx) {
      const { reader } = await ctx.identities();
      const path = resourcePath(ctx);
      const r = await asUser(ctx, reader, 'GET', path);
      if (!isOk(r.status)) return fail(`GET ${path} as ${reader.user} → HTTP ${r.status} ${r.body.slice(0, 200)}`);
      if (!ctx.target.whoamiPath) return pass(`HTTP ${r.status} (no whoami resource: identity echo not checked)`);
      const w = await asUser(
        ctx,
        reader,
        'POST',
        ctx.target.whoamiPath,
        {},
        {
          apiVersion: `${ctx.target.group}/${ctx.target.version}`,
          kind: 'SelfSubjectReview',
        },
      );
      const info = (
        w.json as
          | {
              status?: {
                userInfo?: { username?: string; groups?: string[]; extra?: Record<string, string[]>; uid?: string };
              };
            }
          | undefined
      )?.status?.userInfo;
      const problems: string[] = [];
      if (info?.username !== reader.user) problems.push(`username ${JSON.stringify(info?.username)}`);
      for (const g of reader.groups) if (!info?.groups?.includes(g)) problems.push(`group ${g} missing`);
      for (const [k, v] of Object.entries(reader.extra))
        if (JSON.stringify(info?.extra?.[k]) !== JSON.stringify(v))
          problems.push(`extra ${k}=${JSON.stringify(info?.extra?.[k])}`);
      if (ctx.serverMinor >= 22 && info?.uid !== reader.uid) problems.push(`uid ${JSON.stringify(info?.uid)}`);
      if (problems.length > 0) return fail(`whoami as ${reader.user}: HTTP ${w.status}: ${problems.join(', ')}`);
      return pass(
        `HTTP ${r.status}; whoami echoes user, groups, extra${ctx.serverMinor >= 22 ? ', uid' : ' (uid: kube-apiserver < 1.22 has no Impersonate-Uid)'}`,
      );
    },
  },
  {
    name: 'aggregator: user without RBAC gets 403',
    rule: "an authenticated user the cluster's RBAC does not allow is refused with 403 Forbidden",
    hint: 'authorize every resource request with a SubjectAccessReview and answer 403 when it is not allowed',
    needs: ['resource'],
    async run(ctx) {
      const { nobody } = await ctx.identities();
      const path = resourcePath(ctx);
      const r = await asUser(ctx, nobody, 'GET', path);
      return r.status === 403
        ? pass('HTTP 403')
        : fail(`GET ${path} as ${nobody.user} → HTTP ${r.status} ${r.body.slice(0, 160)}`);
    },
  },
  {
    name: 'aggregator: look-alike identity headers are ignored',
    rule: 'only the configured requestheader names carry identity; X_Remote_User and the like are not identity headers',
    hint: 'match header names exactly (case-insensitively) as configured; never map underscores to dashes (CGI/WSGI-style) when reading identity',
    needs: ['resource'],
    async run(ctx) {
      const { nobody } = await ctx.identities();
      const p = await privileged(ctx);
      const path = resourcePath(ctx);
      const r = await asUser(ctx, nobody, 'GET', path, {
        X_Remote_User: p.user,
        X_Remote_Group: [...p.groups],
        'X-Remote-User_': p.user,
      });
      return r.status === 403
        ? pass('HTTP 403 as the impersonated user')
        : fail(`GET ${path} as ${nobody.user} with X_Remote_User: ${p.user} → HTTP ${r.status}`);
    },
  },
  {
    name: 'direct: anonymous request for a resource is refused',
    rule: 'a request without credentials is system:anonymous and is refused unless RBAC allows it',
    hint: 'run anonymous requests through SubjectAccessReview like any other user (Go: --authorization-always-allow-paths only for health)',
    needs: ['backend', 'resource'],
    async run(ctx) {
      if (
        await subjectAccessAllowed(ctx.rest, ctx.target, {
          user: 'system:anonymous',
          groups: ['system:unauthenticated'],
        })
      ) {
        throw new ProbeSkip(
          "the cluster's RBAC allows system:anonymous to list the probe resource: anonymous and spoofing probes cannot tell",
        );
      }
      const r = await rawRequest(backend(ctx), resourcePath(ctx));
      return refused(r) ? pass(`→ ${show(r)}`) : fail(`anonymous GET ${resourcePath(ctx)} → ${show(r)}`);
    },
  },
  spoofCase(
    'direct: spoofed X-Remote-* without a client certificate',
    'X-Remote-* identity headers are trusted only from the front proxy (a client certificate of requestheader-client-ca-file)',
    async (ctx) => ({ headers: remoteHeaders(await privileged(ctx)) }),
  ),
  spoofCase(
    'direct: spoofed X-Remote-* with a self-signed CN=front-proxy-client',
    'the front proxy certificate must chain to requestheader-client-ca-file; its CN alone proves nothing',
    async (ctx) => ({ headers: remoteHeaders(await privileged(ctx)), cert: selfSignedFrontProxyClient() }),
  ),
  spoofCase(
    'direct: look-alike identity headers without a client certificate',
    'only the configured requestheader names carry identity; underscores or odd case do not make one',
    async (ctx) => {
      const p = await privileged(ctx);
      return {
        headers: [
          ['X_Remote_User', p.user],
          ['X_Remote_Group', 'system:masters'],
          ['x-REMOTE-user-', p.user],
          ['X-Remote-Users', p.user],
        ],
      };
    },
  ),
  pathCase('dot-segments', (ctx) => `/healthz/../..${resourcePath(ctx)}`),
  pathCase('encoded dot-segments', (ctx) => `/healthz/%2e%2e/%2E%2E${resourcePath(ctx)}`),
  pathCase('encoded slash', (ctx) => `/healthz%2F..%2F..${resourcePath(ctx).replace(/\//g, '%2F')}`),
  pathCase('backslash', (ctx) => `/healthz\\..\\..${resourcePath(ctx)}`),
  pathCase('fragment', (ctx) => `/healthz#/../..${resourcePath(ctx)}`),
  pathCase('absolute-form', (ctx) => `https://${backend(ctx).servername}/healthz/../..${resourcePath(ctx)}`),
  healthCase('/healthz?verbose'),
  healthCase('/readyz?verbose'),
  healthCase('/livez?verbose'),
  {
    name: 'cluster: client certificate through the CSR API',
    rule: "an approved CSR for signer kubernetes.io/kube-apiserver-client is issued by the cluster's client CA",
    hint: 'run kube-controller-manager with --cluster-signing-cert-file/--cluster-signing-key-file (or the kube-apiserver-client signer flags)',
    async run(ctx) {
      const csr = await ctx.csrCertificate();
      if (!csr.cert) throw new ProbeSkip(csr.skipReason);
      if (ctx.target.clientCaPem && !issuedBy(csr.cert.certPem, ctx.target.clientCaPem)) {
        return fail('the issued certificate does not chain to client-ca-file of extension-apiserver-authentication');
      }
      return pass(`issued to CN=${csr.cert.user}`);
    },
  },
  {
    name: 'direct: client-CA certificate with X-Remote-User is its own user',
    rule: 'a client-CA certificate not in requestheader-allowed-names authenticates as its CN/O; headers on top are ignored',
    hint: 'check requestheader-allowed-names (and the requestheader CA, not the client CA) before reading X-Remote-*; an empty allowed-names list accepts any CN of the front-proxy CA only',
    needs: ['backend', 'resource'],
    async run(ctx) {
      const cert = await clientCaCertificate(ctx);
      const p = await privileged(ctx);
      const { nobody } = await ctx.identities();
      const certAllowed = await subjectAccessAllowed(ctx.rest, ctx.target, { user: cert.user, groups: cert.groups });
      // Claim the identity whose authorization differs from the certificate's, so the outcome shows whose was used.
      const claimed = certAllowed ? nobody : p;
      const base = await rawRequest(backend(ctx), resourcePath(ctx), { clientCert: cert });
      const r = await rawRequest(backend(ctx), resourcePath(ctx), {
        clientCert: cert,
        headers: remoteHeaders(claimed),
      });
      const evidence = `certificate: ${cert.source}; without headers → ${show(base)}; with X-Remote-User: ${claimed.user} → ${show(r)}`;
      if (!certAllowed && isOk(r.status)) return fail(`${evidence}: served the header's user`);
      if (certAllowed && isOk(base.status) && r.status === 403)
        return fail(`${evidence}: authorized the header's user`);
      if (certAllowed && !isOk(base.status)) {
        throw new ProbeSkip(
          `${evidence}: the backend does not accept this client-CA certificate, so the header test cannot tell`,
        );
      }
      return pass(evidence);
    },
  },
  {
    name: 'direct: ServiceAccount token (TokenRequest) is accepted',
    rule: "bearer tokens are authenticated with a TokenReview and authorized as the token's user",
    hint: 'configure delegated token authentication (TokenReview against kube-apiserver, Go: --authentication-kubeconfig)',
    needs: ['backend', 'resource'],
    async run(ctx) {
      const token = await saToken(ctx);
      const r = await rawRequest(backend(ctx), resourcePath(ctx), { headers: [['Authorization', `Bearer ${token}`]] });
      return isOk(r.status)
        ? pass(`→ HTTP ${r.status}`)
        : fail(
            `GET ${resourcePath(ctx)} with the token of ${(await ctx.identities()).serviceAccount.user} → ${show(r)}`,
          );
    },
  },
  {
    name: 'direct: tampered ServiceAccount token is refused',
    rule: 'a token whose TokenReview is not authenticated is refused with 401',
    hint: "refuse the request when the TokenReview says authenticated: false; never fall back to the token's unverified claims",
    needs: ['backend', 'resource'],
    async run(ctx) {
      const token = await saToken(ctx);
      const [h, c, s] = token.split('.');
      const claims = JSON.parse(Buffer.from(c ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
      claims.sub = 'system:serviceaccount:kube-system:default';
      const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
      const r = await rawRequest(backend(ctx), resourcePath(ctx), { headers: [['Authorization', `Bearer ${forged}`]] });
      if (isOk(r.status)) return fail(`forged claims → ${show(r)}`);
      return r.status === 401 ? pass('→ HTTP 401') : pass(`→ ${show(r)} (Go answers 401)`);
    },
  },
  {
    name: 'tls: serving chain verifies against the APIService caBundle',
    rule: 'kube-apiserver verifies the backend with spec.caBundle for <service>.<namespace>.svc',
    hint: 'put the CA of the serving certificate in spec.caBundle and include DNS:<service>.<namespace>.svc in its SANs',
    needs: ['backend'],
    async run(ctx) {
      if (ctx.target.insecureSkipTlsVerify)
        return fail('APIService sets insecureSkipTLSVerify: the aggregator does not verify the backend at all');
      if (!ctx.target.caBundlePem) return fail('APIService has no caBundle');
      const h = await handshake(backend(ctx));
      if (!h.ok) return fail(`handshake failed: ${h.error}`);
      return h.authorized
        ? pass(`${h.protocol}, verified for ${backend(ctx).servername}`)
        : fail(`${h.authorizationError}`);
    },
  },
  {
    name: 'tls: serving certificate not about to expire',
    rule: 'the serving certificate is valid now and for 30 more days (warn below)',
    hint: 'rotate the serving certificate (cert-manager, or the operator that issues it) before it expires',
    needs: ['backend'],
    async run(ctx) {
      const h = await handshake(backend(ctx));
      if (!h.ok || !h.peer?.raw) return fail(`handshake failed: ${h.error ?? 'no certificate'}`);
      const cert = new X509Certificate(h.peer.raw);
      const left = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
      if (left < 0 || Date.parse(cert.validFrom) > Date.now())
        return fail(`not valid now (${cert.validFrom} – ${cert.validTo})`);
      return pass(
        left < 30
          ? `WARNING: expires in ${left.toFixed(1)} days (${cert.validTo})`
          : `expires ${cert.validTo} (${Math.floor(left)} days)`,
      );
    },
  },
  {
    name: 'tls: no TLS 1.0 or 1.1',
    rule: 'extension apiservers serve TLS 1.2+ (Go k8s.io/apiserver default --tls-min-version VersionTLS12)',
    hint: 'set the minimum TLS version to 1.2 (Go: --tls-min-version=VersionTLS12; Node: minVersion: "TLSv1.2")',
    needs: ['backend'],
    async run(ctx) {
      const offered: string[] = [];
      for (const v of ['TLSv1', 'TLSv1.1'] as const) {
        const h = await handshake(backend(ctx), { minVersion: v, maxVersion: v });
        if (h.ok) offered.push(h.protocol ?? v);
      }
      return offered.length > 0 ? fail(`accepted ${offered.join(', ')}`) : pass('TLS 1.0 and 1.1 refused');
    },
  },
  {
    name: 'tls: asks for client certificates of the front-proxy CA',
    rule: 'the backend requests a client certificate and names requestheader-client-ca-file among its acceptable CAs (Go: ClientCAs from the dynamic CA bundles)',
    hint: 'request client certificates (Go: tls.VerifyClientCertIfGiven; Node: requestCert: true, rejectUnauthorized: false) with ca = client-ca-file + requestheader-client-ca-file',
    needs: ['backend'],
    async run(ctx) {
      const fp = ctx.target.frontProxyCaPem;
      if (!fp) throw new ProbeSkip('extension-apiserver-authentication has no requestheader-client-ca-file');
      const req = await clientCertificateRequest(backend(ctx));
      if (typeof req === 'string') throw new ProbeSkip(req);
      if (!req.requested)
        return fail('no CertificateRequest in the TLS 1.2 handshake: the front proxy cannot prove itself');
      const wanted = subjectsDer(fp);
      const names = req.acceptableCas.map((d) => d.toString('hex'));
      const found = wanted.filter((w) => names.includes(w.der));
      if (found.length === 0) {
        return fail(
          `acceptable CAs (${req.acceptableCas.length}) do not include the front-proxy CA ${wanted.map((w) => w.subject).join(', ')}`,
        );
      }
      return pass(`${req.acceptableCas.length} acceptable CA(s), including ${found.map((f) => f.subject).join(', ')}`);
    },
  },
];

/** DER (hex) and text of the subject of each certificate in a PEM bundle. */
function subjectsDer(bundle: string): { der: string; subject: string }[] {
  const pems = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return pems.map((pem) => {
    const cert = forge.pki.certificateFromPem(pem);
    const der = forge.asn1.toDer(forge.pki.distinguishedNameToAsn1(cert.subject)).getBytes();
    return {
      der: Buffer.from(der, 'binary').toString('hex'),
      subject: cert.subject.attributes.map((a) => `${a.shortName ?? a.name}=${String(a.value)}`).join(','),
    };
  });
}

/** The CSR certificate, or else the kubeconfig's own client-CA certificate (said in the evidence), or skip. */
async function clientCaCertificate(ctx: ProbeContext): Promise<ClientCaCertificate> {
  const csr = await ctx.csrCertificate();
  if (csr.cert) return csr.cert;
  const own = kubeconfigClientCertificate(ctx.connection, ctx.target.clientCaPem);
  if (own) return { ...own, source: `${own.source}, since ${csr.skipReason}` };
  throw new ProbeSkip(
    `no client-CA certificate: ${csr.skipReason}; and the kubeconfig has no client certificate of client-ca-file`,
  );
}

const tokens = new WeakMap<ProbeContext, Promise<string>>();
async function saToken(ctx: ProbeContext): Promise<string> {
  let t = tokens.get(ctx);
  if (!t) {
    t = ctx.identities().then((ids) => serviceAccountToken(ctx.rest, ids.serviceAccount));
    tokens.set(ctx, t);
  }
  return t;
}

/** Runs the cases in order; unmet needs and `ProbeSkip` become skips, any other error a failure. */
export async function runProbes(
  ctx: ProbeContext,
  cases: readonly ProbeCase[],
  onResult: (r: ProbeResult) => void = () => {},
  signal?: AbortSignal,
): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  for (const c of cases) {
    const t0 = Date.now();
    let verdict: { outcome: ProbeOutcome; detail: string };
    if (signal?.aborted) verdict = { outcome: 'skip', detail: 'interrupted' };
    else if (c.needs?.includes('backend') && !ctx.target.backend) {
      verdict = { outcome: 'skip', detail: ctx.target.backendSkipReason ?? 'backend not reachable' };
    } else if (c.needs?.includes('resource') && !ctx.target.resource) {
      verdict = { outcome: 'skip', detail: 'the group-version has no listable resource' };
    } else {
      try {
        verdict = await c.run(ctx);
      } catch (err) {
        verdict =
          err instanceof ProbeSkip
            ? { outcome: 'skip', detail: err.message }
            : { outcome: 'fail', detail: `could not complete: ${(err as Error).message}` };
      }
    }
    const r: ProbeResult = {
      name: c.name,
      rule: c.rule,
      outcome: verdict.outcome,
      detail: verdict.detail,
      ...(verdict.outcome === 'fail' && { hint: c.hint }),
      durationMs: Date.now() - t0,
    };
    results.push(r);
    onResult(r);
  }
  return results;
}
