import { randomBytes } from 'node:crypto';
import { runLoad, type LoadTls } from '../load.js';
import { listeningPid, processCpuUs } from '../proc.js';
import { allowedGroup } from '../review-peer.js';
import { startServer, type RunningServer } from '../spawn.js';
import { backend, verdict } from './adapters.js';
import { startGo, startOurServe, widgetsPath } from './anchor.js';
import { flundersPath } from './common.js';
import type { FindingRow, Scenario, ThroughputRow } from './types.js';

export const cacheMissFindingLabel = 'cache miss (every request a new identity, one SAR each): `serve` vs Go';

interface Variant {
  readonly name: string;
  readonly label: string;
  start(): Promise<RunningServer & { readonly ca?: string }>;
  readonly path: string;
  readonly tls: LoadTls;
  readonly settings: string;
}

/**
 * Ever-new identities: every request misses the SAR cache, so each is one SubjectAccessReview (single-flight cannot
 * help: no two requests share a key). Go's sample-apiserver and `serve` with their defaults (client QPS 200, burst
 * 400, as Go's delegating clients), then the Koa stack with the client settings `createDelegatedAuth()` does not
 * expose (QPS limit off, 4/16/64 connections to kube-apiserver), to show what each setting does to throughput and to
 * kube-apiserver's CPU per review.
 */
export const cacheMiss: Scenario = {
  name: 'cache-miss',
  reports: [cacheMissFindingLabel],
  description: 'every request a new identity (one SAR each): Go vs `serve` vs the Koa stack with client settings',
  async run(ctx) {
    const b = await backend(ctx);
    const cluster = b.real ? await ctx.cluster() : undefined;
    const apiPid = cluster ? listeningPid(cluster.apiServerPort) : undefined;
    const koa = (name: string, label: string, settings: string, extra: object): Variant => ({
      name,
      label,
      settings,
      path: flundersPath,
      tls: b.frontProxy,
      start: () => startServer('adapter', { ...b.config, framework: 'koa', ...extra }, ctx.spawnOptions(name)),
    });
    const variants: Variant[] = [];
    if (cluster) {
      let goCa = '';
      variants.push({
        name: 'miss-go',
        label: 'Go sample-apiserver',
        settings: 'defaults (client QPS 200, burst 400, HTTP/2)',
        path: flundersPath,
        get tls() {
          return { ...cluster.frontProxyClient, ca: goCa };
        },
        async start() {
          const go = await startGo(ctx, cluster);
          goCa = go.ca;
          return go;
        },
      });
      variants.push({
        name: 'miss-serve',
        label: 'kube-delegated-auth serve',
        settings: 'defaults (client QPS 200, burst 400, 16 connections)',
        path: widgetsPath,
        tls: cluster.frontProxyClient,
        start: () => startOurServe(ctx, cluster),
      });
    }
    variants.push(koa('miss-koa', 'Koa delegatedAuth()', 'defaults (client QPS 200, burst 400, 16 connections)', {}));
    for (const connections of [4, 16, 64]) {
      variants.push(
        koa(`miss-koa-c${connections}`, 'Koa stack from public parts', `QPS limit off, ${connections} connections`, {
          reviewQps: 0,
          reviewConnections: connections,
        }),
      );
    }
    const run = randomBytes(3).toString('hex');
    const throughput: ThroughputRow[] = [];
    const findings: FindingRow[] = [];
    for (const v of variants) {
      const server = await v.start();
      try {
        const headers = (i: number) => ({
          'x-remote-user': `miss-${run}-${v.name}-${i}`,
          'x-remote-group': [allowedGroup, 'system:authenticated'],
        });
        // Connections up and code warm, on identities of their own (also misses).
        await runLoad({
          origin: server.origin,
          tls: v.tls,
          path: v.path,
          headers: (i) => headers(-1 - i),
          connections: ctx.settings.connections,
          durationMs: ctx.settings.warmupMs,
          warmupMs: 0,
        });
        const before = (await server.stats()).extra as { cpuUs?: number; authzCache?: { reviews?: number } };
        const apiBefore = apiPid ? processCpuUs(apiPid) : undefined;
        const {
          latencies: _l,
          completedIncludingWarmup: _c,
          ...res
        } = await runLoad({
          origin: server.origin,
          tls: v.tls,
          path: v.path,
          headers,
          connections: ctx.settings.connections,
          durationMs: ctx.settings.durationMs,
          warmupMs: 0,
        });
        const after = (await server.stats()).extra as typeof before;
        const apiAfter = apiPid ? processCpuUs(apiPid) : undefined;
        const served = res.requests + res.errors;
        const cpuUsPerRequest =
          after.cpuUs !== undefined && before.cpuUs !== undefined && served
            ? (after.cpuUs - before.cpuUs) / served
            : undefined;
        const sars =
          after.authzCache?.reviews !== undefined
            ? after.authzCache.reviews - (before.authzCache?.reviews ?? 0)
            : served;
        const apiCpuPerSar =
          apiBefore !== undefined && apiAfter !== undefined && sars ? (apiAfter - apiBefore) / sars : undefined;
        ctx.log(
          `  ${`${v.label}, ${v.settings}`.padEnd(70)} ${res.rps.toFixed(0).padStart(6)} req/s  p50 ${res.p50Ms.toFixed(2)}  p99 ${res.p99Ms.toFixed(2)} ms` +
            `  cpu ${cpuUsPerRequest?.toFixed(0) ?? '–'} µs/req  kube-apiserver ${apiCpuPerSar?.toFixed(0) ?? '–'} µs/SAR` +
            (res.errors ? `  errors ${JSON.stringify(res.errorsByKind)}` : ''),
        );
        throughput.push({
          scenario: v.name,
          label: `cache miss: ${v.label}, ${v.settings}`,
          ...res,
          backend: b.label,
          ...(cpuUsPerRequest !== undefined && { cpuUsPerRequest }),
          ...(v.name !== 'miss-go' && cluster && { baseline: 'miss-go' }),
          server: { sars, ...(apiCpuPerSar !== undefined && { kubeApiserverCpuUsPerSar: apiCpuPerSar }) },
          notes: 'every request a new identity: one SubjectAccessReview each',
        });
        findings.push({
          scenario: v.name,
          label: `cache miss: ${v.label}, ${v.settings}`,
          target: 'report',
          result:
            `${res.rps.toFixed(0)} req/s, p50 ${res.p50Ms.toFixed(2)} ms, p99 ${res.p99Ms.toFixed(2)} ms, ${sars} SARs; ` +
            `server ${cpuUsPerRequest?.toFixed(0) ?? '–'} µs CPU/request; ` +
            (apiCpuPerSar !== undefined
              ? `kube-apiserver ${apiCpuPerSar.toFixed(0)} µs CPU/SAR`
              : `kube-apiserver CPU not measured (${b.label})`) +
            (res.errors ? `; errors ${JSON.stringify(res.errorsByKind)}` : ''),
          pass: null,
          data: { ...res, sars, cpuUsPerRequest, apiCpuPerSar, backend: b.label },
          p50Ms: res.p50Ms,
          p99Ms: res.p99Ms,
        });
      } finally {
        await server.close();
      }
    }
    const go = throughput.find((r) => r.scenario === 'miss-go');
    const ours = throughput.find((r) => r.scenario === 'miss-serve');
    if (go && ours) {
      const ratio = ours.rps / go.rps;
      findings.push({
        scenario: 'cache-miss',
        label: cacheMissFindingLabel,
        target: 'report (same client defaults)',
        result:
          `${ratio.toFixed(2)}× req/s (${ours.rps.toFixed(0)} / ${go.rps.toFixed(0)}, vs the 3× goal ${verdict(ratio, 3)})` +
          (ours.cpuUsPerRequest && go.cpuUsPerRequest
            ? `; server CPU/request Go / ours ${(go.cpuUsPerRequest / ours.cpuUsPerRequest).toFixed(2)}× (${go.cpuUsPerRequest.toFixed(0)} / ${ours.cpuUsPerRequest.toFixed(0)} µs)`
            : ''),
        pass: null,
        data: { ratio },
      });
    } else {
      const why = cluster ? 'Go or `serve` did not run' : `no real kube-apiserver (${b.label} used for the Koa rows)`;
      findings.push({
        scenario: 'cache-miss',
        label: cacheMissFindingLabel,
        target: 'report',
        result: `SKIPPED: ${why}`,
        pass: null,
        skipped: why,
        data: {},
      });
    }
    return { throughput, findings };
  },
};
