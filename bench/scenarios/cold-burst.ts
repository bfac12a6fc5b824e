import { randomBytes } from 'node:crypto';
import { runBurst, type BurstResult } from '../load.js';
import { allowedGroup } from '../review-peer.js';
import { startServer, type RunningServer } from '../spawn.js';
import { flundersPath } from './common.js';
import { backend } from './adapters.js';
import type { FindingRow, Scenario } from './types.js';

/**
 * Cold bursts against an empty authorizer cache: 1000 requests released together on 1000 warm keep-alive connections.
 * SARs are counted twice: by the server as it sends them and, with the real cluster, from kube-apiserver's audit log.
 */
export const coldBurst: Scenario = {
  name: 'cold-burst',
  description: '1000 concurrent requests of 1 new identity → 1 SAR; 1000 over 100 identities → ≤ 100 SARs',
  async run(ctx) {
    const b = await backend(ctx);
    const cluster = b.real ? await ctx.cluster() : undefined;
    const peer = b.real ? undefined : await ctx.peer();
    const n = 1000;
    // The README's Koa server: createSecureServer + delegatedAuth() with its default client settings.
    const server = await startServer('adapter', { ...b.config, framework: 'koa' }, ctx.spawnOptions('cold-burst'));
    const run = randomBytes(3).toString('hex');
    const findings: FindingRow[] = [];
    try {
      const burst = async (label: string, identities: number, target: number, targetText: string): Promise<void> => {
        type Extra = { authzCache?: { reviews?: number } };
        const before = (await server.stats()).extra as Extra;
        const mark = cluster?.auditMark() ?? 0;
        peer?.resetCounts();
        const res: BurstResult = await runBurst({
          origin: server.origin,
          tls: b.frontProxy,
          requests: n,
          // system:masters is always allowed without a SAR, so warming the connections leaves the cache empty.
          warmupPath: '/healthz',
          warmupHeaders: { 'x-remote-user': 'bench-warmup', 'x-remote-group': 'system:masters' },
          path: flundersPath,
          headers: (i) => ({
            'x-remote-user': `burst-${run}-${identities}-${i % identities}`,
            'x-remote-group': [allowedGroup, 'system:authenticated'],
          }),
        });
        const after = (await server.stats()).extra as Extra;
        const sent = (after.authzCache?.reviews ?? NaN) - (before.authzCache?.reviews ?? 0);
        const audited = cluster ? (await cluster.countReviews(mark)).sar : undefined;
        const peerCount = peer?.counts.sar;
        const counted = audited ?? peerCount ?? sent;
        ctx.log(
          `  ${label}: ${JSON.stringify(res.statusCounts)} in ${res.elapsedMs.toFixed(0)} ms; SARs sent ${sent}` +
            (audited !== undefined ? `, in audit log ${audited}` : `, at peer ${peerCount}`),
        );
        findings.push({
          scenario: 'cold-burst',
          label,
          target: targetText,
          result:
            `${counted} SAR (${audited !== undefined ? 'kube-apiserver audit log' : 'in-process peer'}), ` +
            `${sent} sent by server; ${res.statusCounts['200'] ?? 0}/${n} × 200 in ${res.elapsedMs.toFixed(0)} ms`,
          pass:
            counted <= target &&
            sent <= target &&
            (identities === 1 ? counted === 1 : true) &&
            res.statusCounts['200'] === n,
          data: { ...res, sarSent: sent, sarAudited: audited, sarAtPeer: peerCount, backend: b.label },
          p50Ms: res.p50Ms,
          p99Ms: res.p99Ms,
        });
      };
      await burst('cold burst: 1000 concurrent, 1 new identity', 1, 1, 'exactly 1 SAR');
      await burst('cold burst: 1000 concurrent over 100 identities', 100, 100, '≤ 100 SARs');
    } finally {
      await server.close();
    }
    return { throughput: [], findings };
  },
};

export type { RunningServer };
