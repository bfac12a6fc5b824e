import { runLoad } from '../load.js';
import { allowedGroup } from '../review-peer.js';
import { startServer, type ServerStats } from '../spawn.js';
import { localConfig } from './common.js';
import type { FindingRow, Scenario } from './types.js';

const mib = (n: number) => n / 2 ** 20;

export const memoryFindingLabel = 'memory after N distinct identities (Koa stack)';

/**
 * N distinct identities through the Koa stack, each a cache miss (one SAR each), then RSS and cache sizes. Uses the
 * in-process review peer on purpose: 100k audited SARs would measure kube-apiserver and its audit log, not us.
 */
export const memory: Scenario = {
  name: 'memory-100k',
  reports: [memoryFindingLabel],
  description: 'N distinct identities (default 100k): RSS before/after, authorizer cache bounded',
  async run(ctx) {
    const peer = await ctx.peer();
    const identities = ctx.settings.identities;
    const server = await startServer(
      'adapter',
      // The Koa stack from public parts with the QPS limit off and 32 connections (createDelegatedAuth's default
      // QPS 200 would make 100k identities take 500 s): the run is about memory, not the client's throttle.
      localConfig(ctx, {
        framework: 'koa',
        reviewKubeconfigFile: peer.kubeconfigFile,
        trustFromFiles: true,
        reviewQps: 0,
        reviewConnections: 32,
      }),
      { ...ctx.spawnOptions('memory'), exposeGc: true },
    );
    try {
      const snapshot = async (): Promise<ServerStats> => {
        await server.gc();
        return server.stats();
      };
      // One request first so the baseline includes loaded modules, JIT and the review client's pool.
      await runLoad({
        origin: server.origin,
        tls: ctx.pki.frontProxyClient,
        path: '/apis/wardle.example.com/v1alpha1/namespaces/default/flunders',
        headers: { 'x-remote-user': 'mem-warmup', 'x-remote-group': [allowedGroup] },
        connections: ctx.settings.connections,
        durationMs: 1000,
        warmupMs: 0,
      });
      const before = await snapshot();
      peer.resetCounts();
      const { latencies: _l, ...res } = await runLoad({
        origin: server.origin,
        tls: ctx.pki.frontProxyClient,
        path: '/apis/wardle.example.com/v1alpha1/namespaces/default/flunders',
        headers: (i) => ({
          'x-remote-user': `mem-user-${i}`,
          'x-remote-group': [allowedGroup, 'system:authenticated'],
        }),
        connections: ctx.settings.connections,
        durationMs: 10 * 60_000,
        maxRequests: identities,
        warmupMs: 0,
      });
      const after = await snapshot();
      const cache = (after.extra as { authzCache?: Record<string, number> }).authzCache ?? {};
      const size = cache.size ?? NaN;
      const max = cache.max ?? cache.maxEntries ?? NaN;
      ctx.log(
        `  ${res.requests} identities in ${(res.durationMs / 1000).toFixed(1)} s; RSS ${mib(before.memory.rss).toFixed(0)} → ${mib(after.memory.rss).toFixed(0)} MiB; cache ${JSON.stringify(cache)}`,
      );
      const finding: FindingRow = {
        scenario: 'memory-100k',
        label: `${memoryFindingLabel}: N = ${identities.toLocaleString('en-US')}`,
        target: 'caches bounded; report RSS',
        result:
          `RSS ${mib(before.memory.rss).toFixed(0)} → ${mib(after.memory.rss).toFixed(0)} MiB, heap ${mib(before.memory.heapUsed).toFixed(0)} → ${mib(after.memory.heapUsed).toFixed(0)} MiB ` +
          // Where RSS goes: V8's committed heap (heapTotal, kept after the load), buffers outside the heap.
          `(V8 heap committed ${mib(before.memory.heapTotal).toFixed(0)} → ${mib(after.memory.heapTotal).toFixed(0)} MiB, ` +
          `external ${mib(before.memory.external).toFixed(0)} → ${mib(after.memory.external).toFixed(0)} MiB, ` +
          `ArrayBuffers ${mib(before.memory.arrayBuffers).toFixed(1)} → ${mib(after.memory.arrayBuffers).toFixed(1)} MiB); ` +
          `authz cache ${size} entries (max ${max}); ${peer.counts.sar} SARs`,
        pass: Number.isFinite(size) && Number.isFinite(max) ? size <= max && res.errors === 0 : null,
        data: { before: before.memory, after: after.memory, cache, sar: peer.counts.sar, ...res, backend: peer.label },
        p50Ms: res.p50Ms,
        p99Ms: res.p99Ms,
      };
      return { throughput: [], findings: [finding] };
    } finally {
      await server.close();
    }
  },
};
