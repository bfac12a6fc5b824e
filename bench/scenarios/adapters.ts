import type { LoadTls } from '../load.js';
import { tokenPrefix } from '../review-peer.js';
import { startServer, type RunningServer } from '../spawn.js';
import type { ServerConfig } from '../servers/child.js';
import { deniedHeaders, localConfig } from './common.js';
import type { BenchContext, FindingRow, Scenario, ThroughputCase, ThroughputRow } from './types.js';

export const frameworks = ['koa', 'express', 'fastify', 'node-http'] as const;
export type Framework = (typeof frameworks)[number];
export const frameworkLabel: Record<Framework, string> = {
  koa: 'Koa delegatedAuth()',
  express: 'Express delegatedAuth()',
  fastify: 'Fastify fastifyDelegatedAuth',
  'node-http': 'node:http withDelegatedAuth',
};
const bareLabel: Record<Framework, string> = {
  koa: 'bare Koa',
  express: 'bare Express',
  fastify: 'bare Fastify',
  'node-http': 'bare node:https',
};
/** The three identities of the issue: front-proxy headers, a client-certificate user, a (cached) bearer token. */
export const identityKinds = ['front-proxy', 'x509', 'token'] as const;
export type IdentityKind = (typeof identityKinds)[number];
const identityLabel: Record<IdentityKind, string> = {
  'front-proxy': 'front-proxy + SAR (cached)',
  x509: 'client certificate + SAR (cached)',
  token: 'bearer TokenReview + SAR (both cached)',
};

/** What the public stacks talk to: the real kube-apiserver when the harness can start it, else the in-process peer. */
export interface Backend {
  /** Shown in the table's backend column. */
  readonly label: string;
  readonly real: boolean;
  /** ServerConfig of a delegated-auth server on this backend. */
  readonly config: ServerConfig;
  readonly frontProxy: LoadTls;
  readonly x509User: LoadTls;
  /** A bearer token that authenticates (TokenReview) as a user allowed to read flunders. */
  token(): Promise<string>;
}

export async function backend(ctx: BenchContext, extra: Partial<ServerConfig> = {}): Promise<Backend> {
  const cluster = await ctx.cluster();
  if (cluster) {
    return {
      label: cluster.label,
      real: true,
      // Trust from kube-system/extension-apiserver-authentication, as in the README's example.
      config: {
        ...localConfig(ctx),
        requestheaderClientCaFile: cluster.requestheaderClientCaFile,
        clientCaFile: cluster.clientCaFile,
        reviewKubeconfigFile: cluster.serverKubeconfigFile,
        ...extra,
      },
      frontProxy: cluster.frontProxyClient,
      x509User: cluster.x509User,
      token: () => cluster.serviceAccountToken(),
    };
  }
  const peer = await ctx.peer();
  return {
    label: peer.label,
    real: false,
    config: localConfig(ctx, { reviewKubeconfigFile: peer.kubeconfigFile, trustFromFiles: true, ...extra }),
    frontProxy: ctx.pki.frontProxyClient,
    x509User: ctx.pki.x509User,
    token: () => Promise.resolve(`${tokenPrefix}1`),
  };
}

/**
 * Every public adapter as the README shows it (bench/servers/adapter.ts, public entry points only) against the same
 * framework bare on node:https with the same certificates, load and response body; three identities each.
 */
export const adapters: Scenario = {
  name: 'adapters',
  reports: frameworks.flatMap((fw) => identityKinds.map((kind) => adapterFindingLabel(fw, kind))),
  description:
    'Koa/Express/Fastify/node:http: public delegated-auth stack (front-proxy, x509, cached token; cached SAR) vs the same framework bare',
  async prepare(ctx) {
    const b = await backend(ctx);
    const token = await b.token();
    const servers: RunningServer[] = [];
    const cases: ThroughputCase[] = [];
    try {
      for (const fw of frameworks) {
        const bare = await startServer(
          'adapter',
          localConfig(ctx, { framework: fw, bare: true }),
          ctx.spawnOptions(`bare-${fw}`),
        );
        servers.push(bare);
        const ours = await startServer('adapter', { ...b.config, framework: fw }, ctx.spawnOptions(fw));
        servers.push(ours);
        cases.push({
          scenario: `bare-${fw}`,
          label: bareLabel[fw],
          server: bare,
          tls: b.frontProxy,
          notes: 'no authentication, same TLS (requestCert), same JSON body',
        });
        const tlsOf: Record<IdentityKind, LoadTls> = {
          'front-proxy': b.frontProxy,
          x509: b.x509User,
          // No client certificate: the token is the only credential, as for a pod calling the server directly.
          token: { ca: b.frontProxy.ca },
        };
        for (const kind of identityKinds) {
          cases.push({
            scenario: `${fw}-${kind}`,
            label: `${frameworkLabel[fw]}: ${identityLabel[kind]}`,
            server: ours,
            tls: tlsOf[kind],
            ...(kind === 'token' ? { headers: { authorization: `Bearer ${token}` } } : {}),
            ...(kind === 'x509' ? { headers: {} } : {}),
            backend: b.label,
            baseline: `bare-${fw}`,
          });
        }
        if (fw === 'koa') {
          // Where the server part of the gap is: the same bare Koa app on the library's createSecureServer.
          const bareSecure = await startServer(
            'adapter',
            localConfig(ctx, { framework: 'koa', bare: true, bareOnSecureServer: true }),
            ctx.spawnOptions('bare-koa-secure-server'),
          );
          servers.push(bareSecure);
          cases.push({
            scenario: 'bare-koa-secure-server',
            label: 'bare Koa on createSecureServer (no auth)',
            server: bareSecure,
            tls: b.frontProxy,
            baseline: 'bare-koa',
            notes: 'isolates the server (timeouts, CA hint) from the auth chain',
          });
          cases.push({
            scenario: 'koa-deny',
            label: `${frameworkLabel.koa}: front-proxy + SAR deny (cached) → 403`,
            server: ours,
            tls: b.frontProxy,
            headers: deniedHeaders,
            expectStatus: 403,
            backend: b.label,
            baseline: 'bare-koa',
          });
        }
      }
    } catch (err) {
      await Promise.all(servers.map((s) => s.close()));
      throw err;
    }
    return {
      cases,
      findings: (rows) => adapterFindings(rows),
      close: async () => {
        await Promise.all(servers.map((s) => s.close()));
      },
    };
  },
};

/** Label of the ratio finding of one adapter and identity kind (the spec of `--quick` checks that each is printed). */
export function adapterFindingLabel(fw: Framework, kind: IdentityKind): string {
  return `${frameworkLabel[fw]} ${kind} vs ${bareLabel[fw]}`;
}

/** The target: missed by how much, or met. */
export function verdict(ratio: number, target: number): string {
  return ratio >= target ? 'met' : `missed by ${(((target - ratio) / target) * 100).toFixed(0)}%`;
}

function adapterFindings(rows: readonly ThroughputRow[]): FindingRow[] {
  const get = (n: string) => rows.find((r) => r.scenario === n);
  const out: FindingRow[] = [];
  for (const fw of frameworks) {
    const bare = get(`bare-${fw}`);
    for (const kind of identityKinds) {
      const ours = get(`${fw}-${kind}`);
      if (!bare || !ours) continue;
      const ratio = ours.rps / bare.rps;
      const cpu =
        ours.cpuUsPerRequest && bare.cpuUsPerRequest ? bare.cpuUsPerRequest / ours.cpuUsPerRequest : undefined;
      out.push({
        scenario: `${fw}-${kind}`,
        label: adapterFindingLabel(fw, kind),
        target: '≥ 0.85× req/s',
        result:
          `${ratio.toFixed(2)}× (${ours.rps.toFixed(0)} / ${bare.rps.toFixed(0)} req/s, ${verdict(ratio, 0.85)}); ` +
          `p50 ${ours.p50Ms.toFixed(2)} vs ${bare.p50Ms.toFixed(2)} ms, p99 ${ours.p99Ms.toFixed(2)} vs ${bare.p99Ms.toFixed(2)} ms` +
          (cpu !== undefined
            ? `; CPU/request ${cpu.toFixed(2)}× (${ours.cpuUsPerRequest!.toFixed(0)} vs ${bare.cpuUsPerRequest!.toFixed(0)} µs)`
            : '') +
          (ours.errors ? `; ${ours.errors} errors ${JSON.stringify(ours.errorsByKind)}` : ''),
        pass: ours.errors === 0 && ratio >= 0.85,
        data: { ratio, cpuRatio: cpu, rps: ours.rps, bareRps: bare.rps },
        p50Ms: ours.p50Ms,
        p99Ms: ours.p99Ms,
      });
    }
  }
  // Steady state is cached: once warmed up, no request of the front-proxy/x509/token cases sends a review.
  const koa = get('koa-front-proxy');
  const reviews = koa?.server?.['authzCache.reviews'];
  if (koa && reviews !== undefined) {
    out.push({
      scenario: 'koa-front-proxy',
      label: 'SubjectAccessReviews during the measured Koa rounds (cached)',
      target: '0 after warm-up',
      result: `${reviews} SubjectAccessReviews for ${koa.requests} requests`,
      pass: reviews === 0,
      data: { reviews },
    });
  }
  return out;
}
