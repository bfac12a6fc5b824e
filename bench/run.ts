// Benchmark entry: `npm run bench -- [--duration 10s] [--connections 32] [--only name[,name]] [--quick] [--before <ref>]`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { barChartSvg } from './chart.js';
import { startBenchCluster, type BenchCluster } from './cluster.js';
import { createBenchPki } from './pki.js';
import { startReviewPeer, type ReviewPeer } from './review-peer.js';
import { scenarios } from './scenarios/index.js';
import type { Pool } from 'undici';
import { createPool, mergeResults, runLoad, type RawLoadResult } from './load.js';
import { allowedHeaders, flundersPath } from './scenarios/common.js';
import type {
  BenchContext,
  BenchSettings,
  FindingRow,
  PreparedThroughput,
  ThroughputCase,
  ThroughputRow,
} from './scenarios/types.js';

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim());
  if (!m) throw new Error(`--duration: expected e.g. 10s, 500ms or 1m, got ${JSON.stringify(s)}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    connections: { type: 'string', default: '32' },
    only: { type: 'string', multiple: true },
    case: { type: 'string' },
    before: { type: 'string' },
    // Accepted for old command lines: the Go anchor now runs whenever the control-plane binaries are there.
    anchor: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    pin: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'no-cluster': { type: 'boolean', default: false },
    identities: { type: 'string' },
    rounds: { type: 'string' },
    list: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help || values.list) {
  console.log(`usage: npm run bench -- [options]
  --duration <10s>      measured phase per throughput scenario (warm-up 1s extra; --quick: 2s)
  --connections <32>    keep-alive mTLS connections of the load generator
  --only <name>         run only these scenarios (repeat or comma-separate)
  --case <regex>        measure only the throughput cases whose name matches (e.g. '^koa-front-proxy$' to profile)
  --quick               CI smoke: 1s per case, 2k identities in the memory run, no package install
  --before <git ref>    also measure the import figures of that commit (built in a temporary git worktree)
  --pin                 pin server (CPU 1) and load generator (CPU 0) with taskset
  --profile             write V8 CPU profiles of the servers to bench/results/profiles/<case>/
                        (summarise: npx tsx bench/profile.ts bench/results/profiles/koa)
  --no-cluster          never start kube-apiserver; use the in-process review peer (the Go rows are skipped)
  --identities <n>      distinct identities of the memory run (default 100000)
  --rounds <3>          interleaved slices per throughput case (the duration is split between them)
scenarios:`);
  for (const s of scenarios) console.log(`  ${s.name.padEnd(24)} ${s.description}`);
  process.exit(0);
}

const quick = values.quick;
if (values.anchor)
  process.stderr.write(
    '--anchor: no longer needed (the Go anchor runs whenever the control-plane binaries are installed)\n',
  );
const settings: BenchSettings = {
  durationMs: values.duration ? parseDuration(values.duration) : quick ? 1_000 : 10_000,
  warmupMs: quick ? 300 : 1_000,
  connections: Number(values.connections),
  pin: values.pin,
  rounds: values.rounds ? Number(values.rounds) : quick ? 1 : 3,
  identities: values.identities ? Number(values.identities) : quick ? 2_000 : 100_000,
  quick,
  ...(values.before && { beforeRef: values.before }),
  ...(values.profile && { profileDir: fileURLToPath(new URL('./results/profiles/', import.meta.url)) }),
};
const only = new Set((values.only ?? []).flatMap((s) => s.split(',')).filter(Boolean));
for (const name of only) {
  if (!scenarios.some((s) => s.name === name)) throw new Error(`--only: unknown scenario ${name} (see --list)`);
}
const selected = scenarios.filter((s) => !only.size || only.has(s.name));

const log = (m: string) => process.stderr.write(`${m}\n`);
if (settings.pin) execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

const pki = createBenchPki();
// Also on Ctrl-C: the harness kills the control plane, the server children exit when the IPC channel closes.
process.once('exit', () => pki.close());
let clusterP: Promise<BenchCluster | undefined> | undefined;
let peerP: Promise<ReviewPeer> | undefined;
const ctx: BenchContext = {
  settings,
  pki,
  cluster() {
    if (values['no-cluster']) return Promise.resolve(undefined);
    clusterP ??= startBenchCluster(pki, log).catch((err: unknown) => {
      log(`control plane failed to start: ${(err as Error).message}; using the in-process review peer`);
      return undefined;
    });
    return clusterP;
  },
  peer() {
    peerP ??= startReviewPeer(pki);
    return peerP;
  },
  spawnOptions(name) {
    return {
      ...(settings.pin && { cpu: 1 }),
      // One directory per scenario server, so profiles of different scenarios never mix.
      ...(settings.profileDir && { cpuProfDir: join(settings.profileDir, name) }),
      exposeGc: true,
    };
  },
  log,
};

const throughput: ThroughputRow[] = [];
const findings: FindingRow[] = [];
const failures: { scenario: string; error: string }[] = [];
const started = new Date();
const failed = (name: string, err: unknown) => {
  log(`  ✗ ${name} failed: ${(err as Error).stack ?? String(err)}`);
  failures.push({ scenario: name, error: (err as Error).message });
};

/** Sums numeric leaves of server stats (`extra`) into `into`, as the difference `after - before`. */
function addDelta(into: Record<string, number>, before: unknown, after: unknown, prefix = ''): void {
  if (typeof after === 'number' && typeof before === 'number') {
    into[prefix] = (into[prefix] ?? 0) + (after - before);
  } else if (after && typeof after === 'object') {
    for (const [k, v] of Object.entries(after)) {
      addDelta(into, (before as Record<string, unknown> | undefined)?.[k], v, prefix ? `${prefix}.${k}` : k);
    }
  }
}

try {
  // 1. Throughput: start every server, then measure all cases in interleaved rounds, so a noisy neighbour on this
  //    shared machine hits every case alike and the ratios of one run stay meaningful.
  const prepared: { name: string; p: PreparedThroughput }[] = [];
  for (const s of selected.filter((x) => x.prepare)) {
    log(`▶ ${s.name}: ${s.description}`);
    try {
      prepared.push({ name: s.name, p: await s.prepare!(ctx) });
    } catch (err) {
      failed(s.name, err);
    }
  }
  try {
    const caseFilter = values.case ? new RegExp(values.case) : undefined;
    const cases = prepared.flatMap(({ p }) => p.cases).filter((c) => !caseFilter || caseFilter.test(c.scenario));
    const slices = new Map<ThroughputCase, RawLoadResult[]>(cases.map((c) => [c, []]));
    const serverDeltas = new Map<ThroughputCase, Record<string, number>>(cases.map((c) => [c, {}]));
    const pools = new Map<ThroughputCase, Pool>(
      cases.map((c) => [
        c,
        createPool(c.server.origin, c.tls, settings.connections, c.newConnectionPerRequest ?? false),
      ]),
    );
    /** The load of one case: its server, path and headers, on its own pool, for `durationMs` after `warmupMs`. */
    const loadOf = (c: ThroughputCase, durationMs: number, warmupMs: number) => ({
      origin: c.server.origin,
      tls: c.tls,
      pool: pools.get(c)!,
      path: c.path ?? flundersPath,
      headers: c.headers ?? allowedHeaders,
      connections: settings.connections,
      durationMs,
      warmupMs,
      ...(c.expectStatus !== undefined && { expectStatus: c.expectStatus }),
      ...(c.newConnectionPerRequest !== undefined && { newConnectionPerRequest: c.newConnectionPerRequest }),
    });
    // Global warm-up: JIT, connection pools, review caches; nothing of it is measured or counted.
    log(`● warm-up (${settings.warmupMs} ms per case)`);
    for (const c of cases) {
      await runLoad(loadOf(c, settings.warmupMs, 0));
    }
    const sliceMs = settings.durationMs / settings.rounds;
    for (let round = 0; round < settings.rounds; round++) {
      log(`● round ${round + 1}/${settings.rounds} (${(sliceMs / 1000).toFixed(1)}s per case)`);
      for (const c of cases) {
        const before = (await c.server.stats()).extra;
        // Only long enough to get every connection busy again after the previous case.
        const res = await runLoad(loadOf(c, sliceMs, 200));
        const slice: Record<string, number> = {};
        addDelta(slice, before, (await c.server.stats()).extra);
        // Servers that cannot count requests themselves (the Go anchor): what the load generator got back.
        if (!('requestsServed' in (before as object))) {
          slice.requestsServed = res.completedIncludingWarmup ?? res.requests;
        }
        const delta = serverDeltas.get(c)!;
        for (const [k, v] of Object.entries(slice)) delta[k] = (delta[k] ?? 0) + v;
        slices.get(c)!.push(res);
        const cpu = slice.cpuUs !== undefined && slice.requestsServed ? slice.cpuUs / slice.requestsServed : NaN;
        log(
          `  ${c.label.padEnd(52)} ${res.rps.toFixed(0).padStart(6)} req/s  p50 ${res.p50Ms.toFixed(2)}  p99 ${res.p99Ms.toFixed(2)} ms  cpu ${cpu.toFixed(0)} µs/req` +
            (res.errors ? `  errors ${JSON.stringify(res.errorsByKind)}` : ''),
        );
      }
    }
    await Promise.all([...pools.values()].map((p) => p.close()));
    for (const c of cases) {
      const { latencies: _l, completedIncludingWarmup: _c, ...merged } = mergeResults(slices.get(c)!);
      const server = serverDeltas.get(c)!;
      const cpuUsPerRequest =
        server.cpuUs !== undefined && server.requestsServed ? server.cpuUs / server.requestsServed : undefined;
      throughput.push({
        scenario: c.scenario,
        label: c.label,
        ...merged,
        ...(c.backend !== undefined && { backend: c.backend }),
        ...(c.notes !== undefined && { notes: c.notes }),
        ...(c.baseline !== undefined && { baseline: c.baseline }),
        ...(Object.keys(server).length > 0 && { server }),
        ...(cpuUsPerRequest !== undefined && { cpuUsPerRequest }),
      });
    }
    for (const { name, p } of prepared) {
      try {
        findings.push(...(p.findings?.(throughput) ?? []));
      } catch (err) {
        failed(name, err);
      }
    }
  } finally {
    for (const { p } of prepared) await p.close().catch(() => undefined);
  }

  // 2. Checks that need the machine to themselves (bursts, memory), one after another.
  for (const s of selected.filter((x) => x.run)) {
    log(`▶ ${s.name}: ${s.description}`);
    try {
      const out = await s.run!(ctx);
      throughput.push(...out.throughput);
      findings.push(...out.findings);
    } catch (err) {
      failed(s.name, err);
    }
  }
} finally {
  await (await peerP)?.close();
  await (await clusterP)?.stop();
  pki.close();
}

const byScenario = new Map(throughput.map((r) => [r.scenario, r]));
const rows = throughput.map((r) => {
  const base = r.baseline ? byScenario.get(r.baseline) : undefined;
  return {
    ...r,
    ratioToBaseline: base ? r.rps / base.rps : undefined,
    cpuRatioToBaseline:
      base?.cpuUsPerRequest && r.cpuUsPerRequest ? base.cpuUsPerRequest / r.cpuUsPerRequest : undefined,
  };
});

// Every figure the issue asks for is printed: measured, or one line saying why not (never counted as measured).
for (const s of selected) {
  for (const label of s.reports ?? []) {
    if (findings.some((f) => f.label.startsWith(label))) continue;
    const failure = failures.find((f) => f.scenario === s.name);
    const why = failure ? `scenario ${s.name} failed: ${failure.error}` : `scenario ${s.name} produced no figure`;
    findings.push({
      scenario: s.name,
      label,
      target: '',
      result: `NOT MEASURED: ${why}`,
      pass: null,
      skipped: why,
      data: {},
    });
  }
}

const fmt = (n: number | undefined, d = 2) => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(d));
const table = [
  '| case | req/s | p50 ms | p99 ms | × baseline | baseline | server CPU µs/req | CPU × baseline | errors | backend |',
  '|---|---:|---:|---:|---:|---|---:|---:|---:|---|',
  ...rows.map(
    (r) =>
      `| ${r.label} | ${r.rps.toFixed(0)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${fmt(r.ratioToBaseline)} | ${r.baseline ? (byScenario.get(r.baseline)?.label ?? r.baseline) : ''} | ${fmt(r.cpuUsPerRequest, 0)} | ${fmt(r.cpuRatioToBaseline)} | ${r.errors} | ${r.backend ?? ''} |`,
  ),
].join('\n');
const verdictOf = (f: FindingRow) =>
  f.skipped !== undefined ? 'SKIPPED' : f.pass === null ? 'report' : f.pass ? 'yes' : '**NO**';
const findingTable = [
  '| figure | target | result | met |',
  '|---|---|---|---|',
  ...findings.map((f) => `| ${f.label} | ${f.target} | ${f.result} | ${verdictOf(f)} |`),
].join('\n');

const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  openssl: process.versions.openssl,
  platform: `${process.platform} ${process.arch}`,
};
const result = {
  date: started.toISOString(),
  command,
  machine,
  settings,
  throughput: rows,
  findings,
  failures,
};
console.log(`\n## kube-delegated-auth bench — ${started.toISOString()}`);
console.log(
  `${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, ${settings.connections} connections, ${settings.durationMs / 1000}s per scenario${settings.pin ? ', pinned' : ''}\n`,
);
console.log(table);
if (findings.length) console.log(`\n${findingTable}`);
// One plain line per figure (greppable; the --quick spec checks that each of the issue's figures is there).
console.log('\n## Figures');
for (const f of findings) console.log(`FIGURE ${f.label}: ${f.result} [${verdictOf(f).replace(/\*/g, '')}]`);
if (failures.length) console.log(`\nFAILED: ${failures.map((f) => `${f.scenario}: ${f.error}`).join('; ')}`);

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const json = `${JSON.stringify(result, null, 2)}\n`;
const koa = byScenario.get('bare-koa')?.rps;
const svg = barChartSvg(rows, {
  title: 'kube-delegated-auth: requests/s, keep-alive mTLS, one run',
  subtitle: `${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, ${settings.connections} connections, ${settings.durationMs / 1000}s/case, ${started.toISOString().slice(0, 10)}`,
  ...(koa && { reference: { label: '0.85 × bare Koa', rps: koa * 0.85 } }),
});
const md = `${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node} (OpenSSL ${machine.openssl}), ${machine.platform}; \`${command}\`, ${started.toISOString()}\n\n${table}\n\n${findingTable}\n`;
writeFileSync(`${resultsDir}${started.toISOString().replace(/[:.]/g, '-')}.json`, json);
writeFileSync(`${resultsDir}latest.json`, json);
writeFileSync(`${resultsDir}latest.svg`, svg);
writeFileSync(`${resultsDir}latest.md`, md);
// A complete run is what README shows; partial or quick runs only go to bench/results/ (ignored by git).
if (only.size === 0 && !quick) {
  writeFileSync(fileURLToPath(new URL('./latest.json', import.meta.url)), json);
  writeFileSync(fileURLToPath(new URL('./latest.svg', import.meta.url)), svg);
}
log(`results: ${resultsDir}latest.json, latest.svg`);
process.exitCode = failures.length ? 1 : 0;
