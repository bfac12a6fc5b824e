import { existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { runFlagsCommand } from './command-line.js';
import { formatFlagUsages, type FlagSpec } from './flag-set.js';
import { loadConnectionConfig, RestClient } from 'kube-delegated-auth/cluster';
import { probeCases, runProbes, type ProbeContext, type ProbeResult } from './conformance/cases.js';
import { ApiRequester } from './conformance/http.js';
import { newRunId, ObjectTracker } from './conformance/objects.js';
import { formatSummary, formatTableLine, toJson, toJunit, type ProbeReport } from './conformance/output.js';
import {
  bindIdentities,
  clientCertificateFromCsr,
  type BoundIdentities,
  type CsrOutcome,
} from './conformance/setup.js';
import { resolveTarget, TargetError } from './conformance/target.js';

const flags: readonly FlagSpec[] = [
  {
    name: 'kubeconfig',
    kind: 'string',
    help: 'kubeconfig of a user who may read APIServices, create RBAC, ServiceAccounts, TokenRequests, CSRs and impersonate (default $KUBECONFIG, then ~/.kube/config)',
  },
  { name: 'apiservice', kind: 'string', help: 'the APIService to check, <version>.<group> (required)' },
  {
    name: 'backend',
    kind: 'string',
    help: 'https://host:port where the backend answers directly (default: its Service, when reachable from here)',
  },
  { name: 'output', kind: 'string', help: 'table or json', defaultText: 'table' },
  { name: 'junit', kind: 'string', help: 'also write a JUnit XML report to this file' },
  {
    name: 'csr-timeout',
    kind: 'duration',
    help: 'how long to wait for an approved CertificateSigningRequest to be signed',
    defaultText: '20s',
  },
  { name: 'help', kind: 'boolean', short: 'h', help: 'help for conformance' },
];

export const conformanceUsage = `Checks the delegated-auth contract of an APIService backend: through kube-apiserver's aggregator and, when
reachable, directly (spoofed identity headers, path confusion, health data, tokens, TLS). Every object it creates is
labelled kube-delegated-auth.io/conformance-run=<id> and deleted at the end, also on SIGINT/SIGTERM.
Exit code 1 when any case fails; a skipped case is never counted as passed.

Usage:
  kube-delegated-auth conformance --apiservice <version>.<group> [--kubeconfig K] [--backend https://host:port] [flags]

Flags:
${formatFlagUsages(flags)}
`;

export interface ConformanceIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** kubectl's default: `$KUBECONFIG` (handled by loadConnectionConfig when this is undefined), else `~/.kube/config`. */
function defaultKubeconfig(): string | undefined {
  if (process.env.KUBECONFIG) return undefined;
  const home = join(homedir(), '.kube', 'config');
  return existsSync(home) ? home : undefined;
}

/** What `conformance` runs with, once its flags are checked. */
interface ConformanceRun {
  readonly apiService: string;
  readonly output: 'table' | 'json';
  readonly kubeconfig: string | undefined;
  readonly backendUrl: string | undefined;
  readonly junit: string | undefined;
  readonly csrTimeoutMs: number;
}

/** `kube-delegated-auth conformance …`: resolves to the exit code (0 all passed or skipped, 1 failures, 2 bad flags). */
export async function runConformanceCommand(args: readonly string[], io: ConformanceIo): Promise<number> {
  return runFlagsCommand(
    {
      name: 'conformance',
      flags,
      usage: conformanceUsage,
      check: ({ value, problems }): ConformanceRun => {
        const apiService = value<string>('apiservice');
        const output = value<string>('output') ?? 'table';
        if (!apiService)
          problems.push({
            flag: '--apiservice',
            cause: 'required flag not set',
            fix: '--apiservice=<version>.<group> (kubectl get apiservices lists them)',
          });
        if (output !== 'table' && output !== 'json')
          problems.push({
            flag: '--output',
            cause: `invalid argument ${JSON.stringify(output)}`,
            fix: '--output=table or --output=json',
          });
        return {
          apiService: apiService ?? '', // set whenever run() runs: its absence is a problem
          output: output as ConformanceRun['output'],
          kubeconfig: value<string>('kubeconfig'),
          backendUrl: value<string>('backend'),
          junit: value<string>('junit'),
          csrTimeoutMs: value<number>('csr-timeout') ?? 20_000,
        };
      },
      run: (checked) => runConformance(checked, io),
    },
    args,
    { usage: io.out, errorLine: io.err },
  );
}

async function runConformance(
  { apiService, output, kubeconfig, backendUrl, junit, csrTimeoutMs }: ConformanceRun,
  io: ConformanceIo,
): Promise<number> {
  let connection;
  try {
    const path = kubeconfig ?? defaultKubeconfig();
    connection = loadConnectionConfig({ ...(path !== undefined && { kubeconfig: path }) });
  } catch (err) {
    const cause = (err as Error).message.replace(/^failed to get delegated authentication kubeconfig: /, '');
    io.err(`error: --kubeconfig: ${cause}; fix: --kubeconfig=<a kubeconfig whose current context names its cluster>`);
    return 1;
  }
  const rest = new RestClient({ connection, userAgent: 'kube-delegated-auth-conformance' });
  const api = new ApiRequester(connection);
  const tracker = new ObjectTracker(rest, newRunId());
  const started = Date.now();
  const abort = new AbortController();
  let interrupted: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = sig;
    io.err(`${sig}: stopping after the current case and deleting the objects of run ${tracker.runId}`);
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results: ProbeResult[] = [];
  let backendText = '';
  let code = 0;
  try {
    let target;
    try {
      target = await resolveTarget(rest, apiService, backendUrl);
    } catch (err) {
      if (err instanceof TargetError) {
        io.err(err.line());
        return 1;
      }
      throw err;
    }
    backendText = target.backend
      ? `direct at ${target.backend.host}:${target.backend.port} (TLS name ${target.backend.servername})`
      : `not reached directly: ${target.backendSkipReason}`;
    if (output === 'table') {
      io.out(
        `kube-delegated-auth conformance: APIService ${apiService} → Service ${target.service.namespace}/${target.service.name}:${target.service.port} (${target.serviceType})`,
      );
      io.out(`backend ${backendText}`);
      io.out(`run id ${tracker.runId} (label kube-delegated-auth.io/conformance-run=${tracker.runId})`);
    }
    const version = await rest.get<{ minor?: string }>('/version').catch(() => ({ minor: '0' }));
    let ids: Promise<BoundIdentities> | undefined;
    let csr: Promise<CsrOutcome> | undefined;
    const ctx: ProbeContext = {
      target,
      rest,
      api,
      connection,
      tracker,
      serverMinor: Number.parseInt(version.minor ?? '0', 10) || 0,
      identities: () => (ids ??= bindIdentities(rest, tracker, target)),
      csrCertificate: () => (csr ??= clientCertificateFromCsr(rest, tracker, csrTimeoutMs)),
    };
    await runProbes(
      ctx,
      probeCases,
      (r) => {
        results.push(r);
        if (output === 'table') io.out(formatTableLine(r));
      },
      abort.signal,
    );
  } finally {
    const cleanupProblems = await tracker.cleanup();
    await rest.close().catch(() => {});
    await api.close().catch(() => {});
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const count = (o: ProbeResult['outcome']) => results.filter((r) => r.outcome === o).length;
    const report: ProbeReport = {
      apiService,
      backend: backendText,
      runId: tracker.runId,
      results,
      passed: count('pass'),
      failed: count('fail'),
      skipped: count('skip'),
      durationMs: Date.now() - started,
      cleanupProblems,
    };
    if (results.length > 0 || cleanupProblems.length > 0) {
      if (output === 'json') io.out(toJson(report));
      else io.out(formatSummary(report));
      if (junit) writeFileSync(junit, toJunit(report));
    }
    for (const p of cleanupProblems)
      io.err(
        `error: cleanup: ${p}; fix: delete it by hand (every object of this run has the label kube-delegated-auth.io/conformance-run=${tracker.runId})`,
      );
    code = report.failed > 0 || cleanupProblems.length > 0 || interrupted !== undefined ? 1 : 0;
  }
  return code;
}
