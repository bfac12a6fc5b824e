import { startServer } from '../spawn.js';
import type { ServerConfig } from '../servers/child.js';
import type { LoadTls } from '../load.js';
import { tokenPrefix } from '../review-peer.js';
import { deniedHeaders, localConfig } from './common.js';
import type { BenchContext, FindingRow, Scenario, ThroughputRow } from './types.js';

export interface Backend {
  /** Shown in the table's backend column. */
  readonly label: string;
  readonly config: ServerConfig;
  /** The front-proxy identity of the load generator. */
  readonly frontProxy: LoadTls;
  /** A bearer token that authenticates (TokenReview) as a user allowed to read flunders. */
  token(): Promise<string>;
  readonly real: boolean;
}

/** The real kube-apiserver when the harness can start it, else the in-process peer (labelled as such). */
export async function backend(ctx: BenchContext, extra: Partial<ServerConfig> = {}): Promise<Backend> {
  const cluster = await ctx.cluster();
  if (cluster) {
    return {
      label: cluster.label,
      real: true,
      config: {
        ...localConfig(ctx),
        requestheaderClientCaFile: cluster.requestheaderClientCaFile,
        clientCaFile: cluster.clientCaFile,
        reviewKubeconfigFile: cluster.serverKubeconfigFile,
        ...extra,
      },
      frontProxy: cluster.frontProxyClient,
      token: () => cluster.serviceAccountToken(),
    };
  }
  const peer = await ctx.peer();
  return {
    label: peer.label,
    real: false,
    config: localConfig(ctx, { reviewKubeconfigFile: peer.kubeconfigFile, ...extra }),
    frontProxy: ctx.pki.frontProxyClient,
    token: () => Promise.resolve(`${tokenPrefix}1`),
  };
}

export const fullStack: Scenario = {
  name: 'full-stack',
  description:
    'createSecureServer + authenticate() + authorize(): front-proxy allow/deny and bearer TokenReview, all cached',
  async prepare(ctx) {
    const b = await backend(ctx, { tokenReview: true, countVerifications: true });
    const server = await startServer('full-stack', b.config, ctx.spawnOptions('full-stack'));
    const token = await b.token();
    const backendLabel = b.label;
    return {
      cases: [
        {
          scenario: 'full-stack-allow',
          label: 'full stack: front-proxy + SAR allow (cached)',
          server,
          tls: b.frontProxy,
          backend: backendLabel,
        },
        {
          scenario: 'full-stack-deny',
          label: 'full stack: front-proxy + SAR deny (cached) → 403',
          server,
          tls: b.frontProxy,
          headers: deniedHeaders,
          expectStatus: 403,
          backend: backendLabel,
        },
        {
          scenario: 'full-stack-token',
          label: 'full stack: bearer TokenReview + SAR (both cached)',
          server,
          // No client certificate: the token is the only credential, as for a pod calling the server directly.
          tls: { ca: b.frontProxy.ca },
          headers: { authorization: `Bearer ${token}` },
          backend: backendLabel,
        },
      ],
      findings(rows) {
        return fullStackFindings(rows);
      },
      close: () => server.close(),
    };
  },
};

function fullStackFindings(rows: readonly ThroughputRow[]): FindingRow[] {
  const get = (n: string) => rows.find((r) => r.scenario === n);
  const koa = get('bare-koa');
  const allow = get('full-stack-allow');
  const out: FindingRow[] = [];
  if (koa && allow) {
    const ratio = allow.rps / koa.rps;
    out.push({
      scenario: 'full-stack-allow',
      label: 'full stack vs bare Koa (same run)',
      target: '≥ 0.85×',
      result: `${ratio.toFixed(2)}× (${allow.rps.toFixed(0)} / ${koa.rps.toFixed(0)} req/s)`,
      pass: ratio >= 0.85,
      data: { ratio, fullStackRps: allow.rps, bareKoaRps: koa.rps },
      p50Ms: allow.p50Ms,
      p99Ms: allow.p99Ms,
    });
  }
  if (koa?.cpuUsPerRequest && allow?.cpuUsPerRequest) {
    const eff = koa.cpuUsPerRequest / allow.cpuUsPerRequest;
    out.push({
      scenario: 'full-stack-allow',
      label: 'full stack vs bare Koa, server CPU per request (same run)',
      target: '≥ 0.85× (contention-resistant view of the same target)',
      result: `${eff.toFixed(2)}× (${allow.cpuUsPerRequest.toFixed(0)} vs ${koa.cpuUsPerRequest.toFixed(0)} µs/request)`,
      pass: eff >= 0.85,
      data: { eff, fullStackCpuUs: allow.cpuUsPerRequest, bareKoaCpuUs: koa.cpuUsPerRequest },
    });
  }
  if (allow?.server) {
    const s = allow.server;
    const verifications = s.chainVerifications ?? 0;
    out.push({
      scenario: 'full-stack-allow',
      label: 'chain verifications on keep-alive connections',
      target: '≈ 0 per request (once per socket)',
      result: `${verifications} verifications for ${allow.requests} requests on ${s.tlsConnections ?? 0} new connections`,
      pass: verifications <= (s.tlsConnections ?? 0) + 0,
      data: { ...s, requests: allow.requests },
    });
    const sar = s['reviews.sar'] ?? 0;
    out.push({
      scenario: 'full-stack-allow',
      label: 'SARs during steady state (cached)',
      target: '0 after warm-up',
      result: `${sar} SubjectAccessReviews for ${allow.requests} requests`,
      pass: sar === 0,
      data: { sar },
    });
  }
  return out;
}
