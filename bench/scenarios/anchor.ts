import type * as GoSample from '../../harness/go-sample-apiserver.js';
import type { ControlPlane } from '../../harness/control-plane.js';
import { listeningPid, processCpuUs } from '../proc.js';
import { startServe } from '../serve-process.js';
import type { RunningServer } from '../spawn.js';
import type { BenchCluster } from '../cluster.js';
import type { BenchContext, FindingRow, Scenario, ThroughputRow } from './types.js';
import { verdict } from './adapters.js';
import { allowedHeaders, flundersPath } from './common.js';

/** The sample server's list (in-memory store, empty namespace): the same request shape as Go's flunders list. */
export const widgetsPath = '/apis/sample.kube-delegated-auth.io/v1alpha1/namespaces/default/widgets';
export const anchorFindingLabels = {
  rps: '`serve` vs Go sample-apiserver, req/s (authorized GET, cached SAR)',
  cpu: '`serve` vs Go sample-apiserver, server CPU per request',
} as const;

const none = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };

/** The Go sample-apiserver of the harness's Kubernetes version, as a RunningServer with /proc CPU stats. */
export async function startGo(
  ctx: BenchContext,
  cluster: BenchCluster,
  extraFlags: readonly string[] = [],
): Promise<RunningServer & { readonly ca: string }> {
  const mod: typeof GoSample = await import('../../harness/go-sample-apiserver.js');
  ctx.log('  starting the Go sample-apiserver (harness)...');
  const go = await mod.startGoSampleApiserver(cluster.controlPlane as ControlPlane, { extraFlags });
  const pid = listeningPid(go.port);
  if (!pid) ctx.log('  (could not find the sample-apiserver pid: no CPU-per-request figure for Go)');
  return {
    name: 'go-sample-apiserver',
    port: go.port,
    origin: go.url,
    ca: go.servingPki.ca.certPem,
    stats: () => Promise.resolve({ memory: none, extra: pid ? { cpuUs: processCpuUs(pid) ?? NaN } : {} }),
    gc: () => Promise.resolve(),
    reset: () => Promise.resolve(),
    close: () => go.stop(),
  };
}

/** `kube-delegated-auth serve` in cluster mode against the bench cluster, all other flags at their defaults. */
export function startOurServe(ctx: BenchContext, cluster: BenchCluster): ReturnType<typeof startServe> {
  return startServe(
    [
      '--kubeconfig',
      cluster.serverKubeconfigFile,
      '--bind-address',
      '127.0.0.1',
      '--tls-cert-file',
      ctx.pki.servingCertFile,
      '--tls-private-key-file',
      ctx.pki.servingKeyFile,
    ],
    ctx.log,
  );
}

/**
 * The Go anchor: k8s.io/sample-apiserver of the harness's Kubernetes version (v0.37 with 1.37) and our sample server
 * (`kube-delegated-auth serve`), both with their default flags against the same real kube-apiserver, both called
 * directly over mTLS with the cluster's front-proxy client certificate (as the aggregator calls them), an allowed
 * user, cached SAR (10 s TTL on both sides). Go lists flunders `?resourceVersion=0` from its watch cache (no etcd read),
 * ours lists widgets from its in-memory store.
 */
export const anchorGo: Scenario = {
  name: 'anchor-go',
  reports: Object.values(anchorFindingLabels),
  description: '`serve` vs the Go sample-apiserver on the same kube-apiserver (front-proxy, cached SAR, list)',
  async prepare(ctx) {
    const cluster = await ctx.cluster();
    if (!cluster) {
      const why = 'no real kube-apiserver (run scripts/control-plane/install.sh; see the log above)';
      return { cases: [], findings: () => skippedAnchor(why), close: () => Promise.resolve() };
    }
    const go = await startGo(ctx, cluster);
    let ours: RunningServer;
    try {
      ours = await startOurServe(ctx, cluster);
    } catch (err) {
      await go.close();
      throw err;
    }
    return {
      cases: [
        {
          scenario: 'anchor-go',
          label: `Go sample-apiserver (k8s.io/apiserver ${cluster.label.split(' ')[1] ?? ''})`,
          server: go,
          tls: { ...cluster.frontProxyClient, ca: go.ca },
          path: flundersPath,
          headers: allowedHeaders,
          backend: cluster.label,
          notes: 'list flunders ?resourceVersion=0 from the watch cache; SAR cached (10 s TTL)',
        },
        {
          scenario: 'anchor-serve',
          label: 'kube-delegated-auth serve (sample apiserver)',
          server: ours,
          tls: cluster.frontProxyClient,
          path: widgetsPath,
          headers: allowedHeaders,
          backend: cluster.label,
          baseline: 'anchor-go',
          notes: 'list widgets from the in-memory store; SAR cached (10 s TTL)',
        },
      ],
      findings: (rows) => anchorFindings(rows),
      close: async () => {
        await ours.close();
        await go.close();
      },
    };
  },
};

function skippedAnchor(why: string): FindingRow[] {
  return Object.values(anchorFindingLabels).map((label) => ({
    scenario: 'anchor-go',
    label,
    target: '≥ 3×',
    result: `SKIPPED: ${why}`,
    pass: null,
    skipped: why,
    data: {},
  }));
}

function anchorFindings(rows: readonly ThroughputRow[]): FindingRow[] {
  const go = rows.find((r) => r.scenario === 'anchor-go');
  const ours = rows.find((r) => r.scenario === 'anchor-serve');
  if (!go || !ours) return skippedAnchor('a server of the anchor did not run (see FAILED)');
  const ratio = ours.rps / go.rps;
  const out: FindingRow[] = [
    {
      scenario: 'anchor-go',
      label: anchorFindingLabels.rps,
      target: '≥ 3×',
      result:
        `${ratio.toFixed(2)}× (${ours.rps.toFixed(0)} / ${go.rps.toFixed(0)} req/s, ${verdict(ratio, 3)}); ` +
        `p50 ${ours.p50Ms.toFixed(2)} vs ${go.p50Ms.toFixed(2)} ms, p99 ${ours.p99Ms.toFixed(2)} vs ${go.p99Ms.toFixed(2)} ms` +
        (ours.errors || go.errors
          ? `; errors ours ${ours.errors}, Go ${go.errors} ${JSON.stringify(go.errorsByKind)}`
          : ''),
      pass: ours.errors === 0 && go.errors === 0 && ratio >= 3,
      data: { ratio, oursRps: ours.rps, goRps: go.rps },
      p50Ms: ours.p50Ms,
      p99Ms: ours.p99Ms,
    },
  ];
  if (go.cpuUsPerRequest && ours.cpuUsPerRequest) {
    const eff = go.cpuUsPerRequest / ours.cpuUsPerRequest;
    out.push({
      scenario: 'anchor-go',
      label: anchorFindingLabels.cpu,
      target: '≥ 3× (Go CPU / ours)',
      result: `${eff.toFixed(2)}× (Go's µs per request / ours: ${go.cpuUsPerRequest.toFixed(0)} / ${ours.cpuUsPerRequest.toFixed(0)} µs, ${verdict(eff, 3)})`,
      pass: eff >= 3,
      data: { eff, oursCpuUs: ours.cpuUsPerRequest, goCpuUs: go.cpuUsPerRequest },
    });
  } else {
    out.push({ ...skippedAnchor('no /proc CPU time for one of the two processes')[1]! });
  }
  return out;
}
