import type * as GoSample from '../../harness/go-sample-apiserver.js';
import type { ControlPlane } from '../../harness/control-plane.js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { RunningServer } from '../spawn.js';
import type { FindingRow, Scenario, ThroughputRow } from './types.js';

/**
 * The Go reference: k8s.io/sample-apiserver (k8s.io/apiserver delegated authn/authz, SAR cache 10 s) started by the
 * harness next to kube-apiserver, hit directly over mTLS with the cluster's front-proxy client certificate and the
 * same headers and path as our full stack. `?resourceVersion=0` is served from its watch cache (no etcd read), which
 * keeps the handler cost close to our trivial handler; its response is a real (empty) FlunderList.
 */
export const anchorGo: Scenario = {
  name: 'anchor-go',
  description: 'Go sample-apiserver, same request (front-proxy, cached SAR, list from watch cache)',
  anchor: true,
  async prepare(ctx) {
    const cluster = await ctx.cluster();
    if (!cluster) throw new Error('the Go anchor needs the real control plane (harness + binaries)');
    const mod: typeof GoSample = await import('../../harness/go-sample-apiserver.js');
    ctx.log('  starting the Go sample-apiserver (harness)...');
    const go = await mod.startGoSampleApiserver(cluster.controlPlane as ControlPlane);
    const pid = listeningPid(go.port);
    if (!pid) ctx.log('  (could not find the sample-apiserver pid: no CPU-per-request figure for Go)');
    const none = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
    // Not our child process: stats are empty, lifecycle is the harness's.
    const server: RunningServer = {
      name: 'go-sample-apiserver',
      port: go.port,
      origin: go.url,
      stats: () => Promise.resolve({ memory: none, extra: pid ? { cpuUs: processCpuUs(pid) } : {} }),
      gc: () => Promise.resolve(),
      reset: () => Promise.resolve(),
      close: () => go.stop(),
    };
    return {
      cases: [
        {
          scenario: 'anchor-go',
          label: 'Go sample-apiserver (k8s.io/apiserver)',
          server,
          tls: { ...cluster.frontProxyClient, ca: go.servingPki.ca.certPem },
          backend: cluster.label,
          notes: 'list flunders ?resourceVersion=0 from the watch cache; SAR cached by k8s.io/apiserver (10 s TTL)',
        },
      ],
      findings: (rows) => anchorFindings(rows),
      close: () => go.stop(),
    };
  },
};

/** The pid listening on a loopback TCP port (from `ss`), to read the Go process's CPU time. */
function listeningPid(port: number): number | undefined {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of a process from /proc, µs (clock ticks are 1/100 s on Linux). */
function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the comm: index 11 = utime, 12 = stime (proc(5) fields 14 and 15).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function anchorFindings(rows: readonly ThroughputRow[]): FindingRow[] {
  const go = rows.find((r) => r.scenario === 'anchor-go');
  const full = rows.find((r) => r.scenario === 'full-stack-allow');
  if (!go || !full) return [];
  const ratio = full.rps / go.rps;
  const cpu: FindingRow[] =
    go.cpuUsPerRequest && full.cpuUsPerRequest
      ? [
          {
            scenario: 'anchor-go',
            label: 'full stack vs Go, server CPU per request (same run)',
            target: '≥ 2× (contention-resistant view; Go may use both cores)',
            result: `${(go.cpuUsPerRequest / full.cpuUsPerRequest).toFixed(2)}× (${full.cpuUsPerRequest.toFixed(0)} vs ${go.cpuUsPerRequest.toFixed(0)} µs/request)`,
            pass: go.cpuUsPerRequest / full.cpuUsPerRequest >= 2,
            data: { fullStackCpuUs: full.cpuUsPerRequest, goCpuUs: go.cpuUsPerRequest },
          },
        ]
      : [];
  return [
    ...cpu,
    {
      scenario: 'anchor-go',
      label: 'full stack vs Go sample-apiserver (same run)',
      target: '≥ 2×',
      result: `${ratio.toFixed(2)}× (${full.rps.toFixed(0)} / ${go.rps.toFixed(0)} req/s)`,
      pass: ratio >= 2,
      data: { ratio, fullStackRps: full.rps, goRps: go.rps, goErrors: go.errorsByKind },
      p50Ms: go.p50Ms,
      p99Ms: go.p99Ms,
    },
  ];
}
