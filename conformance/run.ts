#!/usr/bin/env node
// `npm run conformance [-- --image <image>] [--junit <path>] [--only <text>]`: runs the conformance cases against
// the sample extension apiserver through kube-apiserver's aggregator. Local mode (default) starts etcd and
// kube-apiserver itself; with --image (or --mode cluster) it deploys deploy/ into the cluster of $KUBECONFIG.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runIfEntryPoint } from '../cli/entry-point.js';
import { allCases } from './cases/index.js';
import { createClusterEnvironment } from './modes/cluster.js';
import { createLocalEnvironment } from './modes/local.js';
import { formatCaseLine, formatSummary, summarize, writeJunit, type SuiteReport } from './reporter.js';
import {
  SkipCase,
  type CaseResult,
  type ConformanceCase,
  type ConformanceContext,
  type ConformanceEnvironment,
  type ConformanceMode,
} from './types.js';

export const defaultJunitPath = fileURLToPath(new URL('./results/junit.xml', import.meta.url));

export interface RunConformanceOptions {
  /** Default `local`, or `cluster` when `image` is given. */
  readonly mode?: ConformanceMode;
  /** Cluster mode: the sample server image (`kube-delegated-auth-sample:dev` after `kind load docker-image`). */
  readonly image?: string;
  /** Cluster mode: kubeconfig path. Default `$KUBECONFIG`, then `~/.kube/config`. */
  readonly kubeconfig?: string;
  /** Cluster mode: leave the deployment in place afterwards. Default false. */
  readonly keep?: boolean;
  /** Local mode: directory with etcd and kube-apiserver. Default the harness default. */
  readonly binDir?: string;
  /** Local mode: CLI entry to run as the server, e.g. a built `dist/cli/main.js`. Default `cli/main.ts` (tsx). */
  readonly serverEntry?: string;
  /** JUnit XML path; `null` writes none. Default `conformance/results/junit.xml`. */
  readonly junitPath?: string | null;
  /** Run only cases whose name contains one of these (setup cases always run). Default all. */
  readonly only?: readonly string[];
  /** One line per case and the summary. Default stdout. */
  readonly out?: (line: string) => void;
  /** Progress messages. Default stderr. */
  readonly log?: (msg: string) => void;
  /** The cases; default `allCases`. */
  readonly cases?: readonly ConformanceCase[];
}

function errorText(err: unknown): string {
  const e = err as Error;
  return (e?.stack ?? String(err)).split('\n').slice(0, 12).join('\n');
}

/** Runs the cases in order against a prepared context; a failed setup case skips the rest. */
export async function runCases(
  ctx: ConformanceContext,
  cases: readonly ConformanceCase[],
  onResult: (r: CaseResult) => void = () => {},
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  let blockedBy: string | undefined;
  for (const c of cases) {
    const t0 = Date.now();
    let r: CaseResult;
    const missing = (c.requires ?? []).filter((cap) => !ctx.capabilities.has(cap));
    if (blockedBy) {
      r = { name: c.name, outcome: 'skipped', durationMs: 0, detail: `setup case failed: ${blockedBy}` };
    } else if (missing.length > 0) {
      r = {
        name: c.name,
        outcome: 'skipped',
        durationMs: 0,
        detail: `${ctx.mode} mode: ${c.skipReason ?? `missing capability ${missing.join(', ')}`}`,
      };
    } else {
      try {
        const detail = await c.run(ctx);
        r = { name: c.name, outcome: 'passed', durationMs: Date.now() - t0, ...(detail ? { detail } : {}) };
      } catch (err) {
        r =
          err instanceof SkipCase
            ? { name: c.name, outcome: 'skipped', durationMs: Date.now() - t0, detail: err.message }
            : { name: c.name, outcome: 'failed', durationMs: Date.now() - t0, error: errorText(err) };
        if (r.outcome === 'failed' && c.setup) blockedBy = c.name;
      }
    }
    results.push(r);
    onResult(r);
  }
  return results;
}

/** Prepares the environment of the mode, runs the cases, tears down, writes JUnit, and returns the report. */
export async function runConformance(opts: RunConformanceOptions = {}): Promise<SuiteReport> {
  const mode: ConformanceMode = opts.mode ?? (opts.image ? 'cluster' : 'local');
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = opts.log ?? ((msg: string) => process.stderr.write(`[conformance] ${msg}\n`));
  const startedAt = new Date();
  let cases = opts.cases ?? allCases;
  if (opts.only && opts.only.length > 0) {
    const only = opts.only;
    cases = cases.filter((c) => c.setup || only.some((o) => c.name.includes(o)));
  }
  out(`kube-delegated-auth conformance, ${mode} mode, ${cases.length} cases`);
  let env: ConformanceEnvironment | undefined;
  let results: CaseResult[];
  try {
    if (mode === 'local') {
      env = await createLocalEnvironment({
        ...(opts.binDir ? { binDir: opts.binDir } : {}),
        ...(opts.serverEntry ? { serverEntry: opts.serverEntry } : {}),
        log,
      });
    } else {
      if (!opts.image)
        throw new Error('cluster mode needs --image <image> (the sample server image loaded into the cluster)');
      env = await createClusterEnvironment({
        image: opts.image,
        ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
        keep: opts.keep ?? false,
        log,
      });
    }
    results = await runCases(env.context, cases, (r) => out(formatCaseLine(r)));
  } catch (err) {
    // The environment did not come up: every case is reported, as failed, so CI shows what did not run.
    const error = `environment setup failed: ${errorText(err)}`;
    results = cases.map((c) => ({ name: c.name, outcome: 'failed' as const, durationMs: 0, error }));
    for (const r of results) out(formatCaseLine(r));
  } finally {
    await env?.close().catch((err: unknown) => log(`teardown failed: ${errorText(err)}`));
  }
  const report = summarize(mode, results, startedAt);
  out(formatSummary(report));
  const junitPath = opts.junitPath === undefined ? defaultJunitPath : opts.junitPath;
  if (junitPath) {
    writeJunit(junitPath, report);
    out(`JUnit report: ${junitPath}`);
  }
  return report;
}

export const usage = `Usage: npm run conformance -- [flags]

Local mode (default): starts etcd + kube-apiserver (bash scripts/control-plane/install.sh provides them), runs the
sample server on this host behind an ExternalName Service, and runs every case.
Cluster mode: KUBECONFIG=... npm run conformance -- --image kube-delegated-auth-sample:dev
  deploys deploy/ (with the image, a generated serving Secret and caBundle) and runs the same cases; cases that
  need to restart kube-apiserver or read its audit log are reported as skipped.

Flags:
  --mode local|cluster   default local, or cluster when --image is given
  --image <image>        sample server image (cluster mode)
  --kubeconfig <path>    default $KUBECONFIG, then ~/.kube/config (cluster mode)
  --keep                 leave the deployment in the cluster afterwards (cluster mode)
  --server-entry <js>    run this built CLI (e.g. dist/cli/main.js after npm run build) as the server (local mode)
  --junit <path>         JUnit XML report, default conformance/results/junit.xml
  --only <text>          run only cases whose name contains <text> (repeatable; setup cases always run)
  -h, --help
`;

/** CLI entry: exit code 0 when no case failed, 1 otherwise, 2 on bad flags. */
export async function main(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        mode: { type: 'string' },
        image: { type: 'string' },
        kubeconfig: { type: 'string' },
        keep: { type: 'boolean' },
        junit: { type: 'string' },
        'server-entry': { type: 'string' },
        only: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (values.mode !== undefined && values.mode !== 'local' && values.mode !== 'cluster') {
    process.stderr.write(`--mode must be local or cluster, not ${JSON.stringify(values.mode)}\n`);
    return 2;
  }
  const report = await runConformance({
    ...(values.mode ? { mode: values.mode as ConformanceMode } : {}),
    ...(values.image ? { image: values.image } : {}),
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.keep ? { keep: true } : {}),
    ...(values.junit ? { junitPath: values.junit } : {}),
    ...(values['server-entry'] ? { serverEntry: values['server-entry'] } : {}),
    ...(values.only ? { only: values.only } : {}),
  });
  return report.failed > 0 ? 1 : 0;
}

runIfEntryPoint(import.meta.url, main, (err) => [errorText(err)]);
