// Soak: the real control plane (etcd + kube-apiserver from the harness) and the sample server in cluster mode,
// registered behind an APIService, under mixed traffic for a bounded time. Reports requests and errors by kind
// (expected refusals vs unexpected answers) and the server's RSS over time; writes the report as JSON.
//
//   npm run soak -- --minutes 10 [--concurrency 6] [--out .kda/soak/latest.json]
//
// Exit code 1 when any request got an unexpected answer or the server died.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { issueClientCertificate } from '../harness/cluster-pki.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { KubeClient } from '../harness/kube.js';
import { exitDescription, freePort, startProcess, stopProcess, waitUntil, type Proc } from '../harness/process.js';
import { prepareExtensionServer, type RegisteredApiService } from '../harness/register-apiservice.js';
import { createCertificate } from '../lib/dev-pki/index.js';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const group = 'sample.kube-delegated-auth.io';
const version = 'v1alpha1';
const widgets = `/apis/${group}/${version}/namespaces/default/widgets`;

export interface SoakOptions {
  /** How long traffic runs, ms. */
  readonly durationMs: number;
  /** Parallel request loops. Default 6. */
  readonly concurrency?: number;
  /** A running control plane (e.g. the e2e run's); default: one is started and stopped. */
  readonly controlPlane?: ControlPlane;
  /** RSS sampling period, ms. Default 10_000. */
  readonly sampleEveryMs?: number;
  /** Idle time after the traffic before the final RSS/heap reading, ms. Default 15_000. */
  readonly settleMs?: number;
  /** Where the JSON report goes; default none. */
  readonly out?: string;
  readonly log?: (msg: string) => void;
}

export interface KindReport {
  readonly kind: string;
  readonly path: 'aggregator' | 'direct';
  readonly expected: string;
  readonly requests: number;
  /** Answers among the expected ones, by status (or `tls` for a refused handshake). */
  readonly byOutcome: Record<string, number>;
  readonly unexpected: number;
  readonly unexpectedExamples: readonly string[];
}

export interface SoakReport {
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly concurrency: number;
  readonly serverPid: number;
  readonly serverAlive: boolean;
  readonly totalRequests: number;
  readonly expectedRefusals: number;
  readonly unexpected: number;
  readonly kinds: readonly KindReport[];
  /** RSS of the server process, MiB, every `sampleEveryMs`. */
  readonly rss: readonly { readonly tSeconds: number; readonly mib: number; readonly heapUsedMib?: number }[];
  readonly rssMib: { readonly start: number; readonly peak: number; readonly end: number };
  /**
   * Lowest V8 heap-used sample (MiB, from the server's /metrics) per minute of traffic: the troughs after collections
   * approximate live memory, so a rising series means retention, a flat one means the sawtooth is only garbage.
   */
  readonly heapTroughMibPerMinute: readonly number[];
  /** RSS and heap used after the traffic stopped and the server idled for `settleMs`. */
  readonly settled?: { readonly rssMib: number; readonly heapUsedMib: number };
  /** Server log lines by level (JSON lines), e.g. `{ info: 12, warn: 3400 }`. */
  readonly logLevels: Record<string, number>;
  /** Selected series from the server's /metrics at the end. */
  readonly metrics: Record<string, number>;
  /** The whole /metrics text at the end (not written to the JSON file). */
  readonly metricsText: string;
  /** `/readyz?verbose` at the end (anonymous: an always-allowed path). */
  readonly readyz: { readonly status: number; readonly body: string };
}

interface Outcome {
  /** HTTP status as text, or `tls`/`error:<code>` when no answer came. */
  readonly outcome: string;
  readonly detail: string;
}

interface Kind {
  readonly name: string;
  readonly path: 'aggregator' | 'direct';
  /** Outcomes that count as correct (an allowed 200 or an expected refusal). */
  readonly expected: readonly string[];
  readonly send: (n: number) => Promise<Outcome>;
}

function rssMib(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : undefined;
  } catch {
    return undefined;
  }
}

async function viaUndici(
  agent: Agent,
  url: string,
  headers: Record<string, string | string[]> = {},
  method = 'GET',
): Promise<Outcome> {
  try {
    const res = await request(url, {
      method: method as 'GET',
      headers: { accept: 'application/json', ...headers },
      dispatcher: agent,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await res.body.text();
    return { outcome: String(res.statusCode), detail: text.slice(0, 200) };
  } catch (err) {
    const e = err as { code?: string; message?: string; cause?: { code?: string } };
    const code = e.code ?? e.cause?.code ?? 'unknown';
    // A handshake the server refuses (unknown CA) surfaces as a TLS alert or a reset during the handshake.
    const tls = /ssl|tls|certificate|alert/i.test(`${code} ${e.message}`);
    return { outcome: tls ? 'tls' : `error:${code}`, detail: String(e.message).slice(0, 200) };
  }
}

async function viaKube(client: KubeClient, path: string): Promise<Outcome> {
  try {
    const res = await client.request('GET', path);
    return { outcome: String(res.status), detail: res.text.slice(0, 200) };
  } catch (err) {
    const e = err as { code?: string; message?: string; cause?: { code?: string } };
    return { outcome: `error:${e.code ?? e.cause?.code ?? 'unknown'}`, detail: String(e.message).slice(0, 200) };
  }
}

/** Parses the Prometheus text format into `name{labels} -> value` (enough for a report). */
export function parsePrometheusText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

const reportedSeries = [
  'authentication_attempts{result="success"}',
  'authentication_attempts{result="error"}',
  'authentication_attempts{result="failure"}',
  'authorization_attempts_total{result="allowed"}',
  'authorization_attempts_total{result="denied"}',
  'authorization_attempts_total{result="no-opinion"}',
  'authorization_attempts_total{result="error"}',
  'apiserver_delegated_authz_request_total{code="201"}',
  'apiserver_delegated_authn_request_total{code="201"}',
  'authentication_token_cache_request_total{status="hit"}',
  'authentication_token_cache_request_total{status="miss"}',
  'kube_delegated_auth_authz_cache_hits_total',
  'kube_delegated_auth_authz_cache_misses_total',
  'kube_delegated_auth_authz_cache_evictions_total',
  'kube_delegated_auth_authz_cache_entries',
  'kube_delegated_auth_authz_singleflight_joins_total',
  'apiserver_client_certificate_expiration_seconds_count',
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
];

/** Runs one soak; resolves with the report (also written to `out`). Never leaves processes behind. */
export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log ?? (() => {});
  const concurrency = opts.concurrency ?? 6;
  const sampleEveryMs = opts.sampleEveryMs ?? 10_000;
  const ownsControlPlane = opts.controlPlane === undefined;
  const cleanups: (() => Promise<unknown>)[] = [];
  let proc: Proc | undefined;
  try {
    const cp = opts.controlPlane ?? (await startControlPlane({ log }));
    if (ownsControlPlane) cleanups.push(() => cp.stop());
    const namespace = 'kda-soak';
    const setup = await prepareExtensionServer(cp, { group, version, namespace, serviceName: 'kda-soak-sample' });
    const servername = `${setup.serviceName}.${namespace}.svc`;

    // RBAC for the test identities: list/get widgets for one user, one group and one service account.
    await cp.admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'kda-soak-widgets' },
      rules: [{ apiGroups: [group], resources: ['widgets'], verbs: ['get', 'list'] }],
    });
    await cp.admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'kda-soak-widgets' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kda-soak-widgets' },
      subjects: [
        { kind: 'User', name: 'soak-alice', apiGroup: 'rbac.authorization.k8s.io' },
        { kind: 'Group', name: 'soak-allowed', apiGroup: 'rbac.authorization.k8s.io' },
        { kind: 'ServiceAccount', name: 'soak-reader', namespace },
      ],
    });
    const readerToken = await cp.admin.createServiceAccountToken(namespace, 'soak-reader', {
      expirationSeconds: 24 * 3600,
    });
    const nobodyToken = await cp.admin.createServiceAccountToken(namespace, 'soak-nobody', {
      expirationSeconds: 24 * 3600,
    });

    const port = await freePort();
    const logPath = join(cp.dir, 'soak-sample-server.log');
    proc = startProcess(
      process.execPath,
      [
        '--import',
        'tsx',
        join(repoRoot, 'cli/main.ts'),
        'serve',
        `--secure-port=${port}`,
        '--bind-address=127.0.0.1',
        `--kubeconfig=${setup.kubeconfigPath}`,
        `--tls-cert-file=${setup.servingCertPath}`,
        `--tls-private-key-file=${setup.servingKeyPath}`,
        '--enable-metrics',
        '--log-level=info',
      ],
      logPath,
      'soak-sample-server',
    );
    const server = proc;
    const pid = server.child.pid!;
    const base = `https://127.0.0.1:${port}`;
    const agents: Agent[] = [];
    const agent = (cert?: { certPem: string; keyPem: string }): Agent => {
      const a = new Agent({
        connect: { ca: setup.servingPki.ca.certPem, servername, ...(cert && { cert: cert.certPem, key: cert.keyPem }) },
        connections: 4,
        keepAliveTimeout: 10_000,
      });
      agents.push(a);
      return a;
    };
    cleanups.push(async () => {
      for (const a of agents) await a.close();
    });
    const probe = agent();
    await waitUntil('sample server /readyz', server, Date.now() + 90_000, async () => {
      const r = await request(`${base}/readyz`, { dispatcher: probe });
      await r.body.text();
      return r.statusCode === 200 ? true : `HTTP ${r.statusCode}`;
    });
    const registration: RegisteredApiService = await setup.register(port, { timeoutMs: 90_000 });
    cleanups.push(() => registration.unregister().catch(() => undefined));
    log(`sample server pid ${pid} on ${base}, registered as ${registration.apiServiceName}`);

    const kubeAs = (commonName: string, organizations: readonly string[] = []) => {
      const c = issueClientCertificate(cp.pki, { commonName, organizations });
      const k = new KubeClient({
        server: cp.apiServerUrl,
        caPem: cp.pki.ca.certPem,
        certPem: c.certPem,
        keyPem: c.keyPem,
      });
      cleanups.push(() => k.close());
      return k;
    };
    const alice = kubeAs('soak-alice');
    const bob = kubeAs('soak-bob');
    const admin = cp.admin;
    const aliceCert = issueClientCertificate(cp.pki, { commonName: 'soak-alice' });
    const adminCert = { certPem: cp.pki.admin.certPem, keyPem: cp.pki.admin.keyPem };
    // CA confusion: a cluster-CA certificate named like the front proxy is a plain x509 user, never a proxy.
    const fakeProxyFromClientCa = issueClientCertificate(cp.pki, { commonName: 'front-proxy-client' });
    const selfSignedProxy = createCertificate({ commonName: 'front-proxy-client', extKeyUsage: ['clientAuth'] });
    const direct = {
      anonymous: agent(),
      alice: agent(aliceCert),
      admin: agent(adminCert),
      frontProxy: agent({ certPem: cp.pki.frontProxyClient.certPem, keyPem: cp.pki.frontProxyClient.keyPem }),
      confusedProxy: agent(fakeProxyFromClientCa),
      selfSignedProxy: agent(selfSignedProxy),
    };
    const spoofHeaders = { 'x-remote-user': 'system:admin', 'x-remote-group': 'system:masters' };

    const kinds: readonly Kind[] = [
      {
        name: 'allowed user (client cert at KAS)',
        path: 'aggregator',
        expected: ['200'],
        send: () => viaKube(alice, widgets),
      },
      {
        name: 'denied user (client cert at KAS)',
        path: 'aggregator',
        expected: ['403'],
        send: () => viaKube(bob, widgets),
      },
      {
        name: 'cold identity (impersonated, allowed group)',
        path: 'aggregator',
        expected: ['200'],
        send: (n) => viaKube(admin.impersonating({ user: `soak-cold-${n}`, groups: ['soak-allowed'] }), widgets),
      },
      {
        name: 'service-account token allowed',
        path: 'direct',
        expected: ['200'],
        send: () => viaUndici(direct.anonymous, base + widgets, { authorization: `Bearer ${readerToken}` }),
      },
      {
        name: 'service-account token denied',
        path: 'direct',
        expected: ['403'],
        send: () => viaUndici(direct.anonymous, base + widgets, { authorization: `Bearer ${nobodyToken}` }),
      },
      {
        name: 'bad bearer token',
        path: 'direct',
        expected: ['401'],
        send: (n) => viaUndici(direct.anonymous, base + widgets, { authorization: `Bearer not-a-token-${n % 50}` }),
      },
      {
        name: 'client certificate user allowed',
        path: 'direct',
        expected: ['200'],
        send: () => viaUndici(direct.alice, base + widgets),
      },
      {
        name: 'spoofed X-Remote-* without a certificate',
        path: 'direct',
        expected: ['403'],
        send: () => viaUndici(direct.anonymous, base + widgets, spoofHeaders),
      },
      {
        name: 'spoofed X-Remote-* with a client-CA cert CN=front-proxy-client',
        path: 'direct',
        expected: ['403'],
        send: () => viaUndici(direct.confusedProxy, base + widgets, spoofHeaders),
      },
      {
        name: 'spoofed X-Remote-* with a self-signed proxy cert',
        path: 'direct',
        expected: ['401', 'tls'],
        send: () => viaUndici(direct.selfSignedProxy, base + widgets, spoofHeaders),
      },
      {
        name: 'cold identity via the front-proxy cert',
        path: 'direct',
        expected: ['200'],
        send: (n) =>
          viaUndici(direct.frontProxy, base + widgets, {
            'x-remote-user': `soak-direct-cold-${n}`,
            'x-remote-group': 'soak-allowed',
          }),
      },
    ];

    interface Tally {
      requests: number;
      byOutcome: Record<string, number>;
      unexpected: number;
      examples: string[];
    }
    const tallies = kinds.map((): Tally => ({ requests: 0, byOutcome: {}, unexpected: 0, examples: [] }));
    const rss: { tSeconds: number; mib: number; heapUsedMib?: number }[] = [];
    const t0 = Date.now();
    const heapUsedMib = async (): Promise<number | undefined> => {
      try {
        const m = await request(`${base}/metrics`, { dispatcher: direct.admin });
        const v = parsePrometheusText(await m.body.text()).get('nodejs_heap_size_used_bytes');
        return v === undefined ? undefined : Math.round((v / 1048576) * 10) / 10;
      } catch {
        return undefined;
      }
    };
    const sample = () => {
      const v = rssMib(pid);
      if (v === undefined) return;
      const entry: { tSeconds: number; mib: number; heapUsedMib?: number } = {
        tSeconds: Math.round((Date.now() - t0) / 1000),
        mib: v,
      };
      rss.push(entry);
      void heapUsedMib().then((h) => {
        if (h !== undefined) entry.heapUsedMib = h;
      });
    };
    sample();
    const sampler = setInterval(sample, sampleEveryMs);
    sampler.unref();
    const deadline = t0 + opts.durationMs;
    let next = 0;
    let serial = 0;
    const worker = async () => {
      while (Date.now() < deadline && !exitDescription(server)) {
        const i = next++ % kinds.length;
        const kind = kinds[i]!;
        const r = await kind.send(serial++);
        const t = tallies[i]!;
        t.requests++;
        if (kind.expected.includes(r.outcome)) {
          t.byOutcome[r.outcome] = (t.byOutcome[r.outcome] ?? 0) + 1;
        } else {
          t.unexpected++;
          t.byOutcome[`unexpected ${r.outcome}`] = (t.byOutcome[`unexpected ${r.outcome}`] ?? 0) + 1;
          if (t.examples.length < 5) t.examples.push(`${r.outcome}: ${r.detail}`);
        }
      }
    };
    const progress = setInterval(() => {
      const total = tallies.reduce((a, t) => a + t.requests, 0);
      const bad = tallies.reduce((a, t) => a + t.unexpected, 0);
      log(
        `t=${Math.round((Date.now() - t0) / 1000)}s requests=${total} unexpected=${bad} rss=${rss.at(-1)?.mib ?? '?'}MiB`,
      );
    }, 60_000);
    progress.unref();
    try {
      await Promise.all(Array.from({ length: concurrency }, worker));
    } finally {
      clearInterval(sampler);
      clearInterval(progress);
    }
    sample();
    const durationSeconds = (Date.now() - t0) / 1000;
    let settled: { rssMib: number; heapUsedMib: number } | undefined;
    if (exitDescription(server) === undefined) {
      await new Promise((r) => setTimeout(r, opts.settleMs ?? 15_000));
      const r = rssMib(pid);
      const h = await heapUsedMib();
      if (r !== undefined && h !== undefined) settled = { rssMib: r, heapUsedMib: h };
    }
    const serverAlive = exitDescription(server) === undefined;
    const heapTroughMibPerMinute: number[] = [];
    for (const s of rss) {
      // Whole minutes only: a partial last minute has too few samples to have a trough.
      if (s.heapUsedMib === undefined || s.tSeconds >= Math.floor(durationSeconds / 60) * 60) continue;
      const minute = Math.floor(s.tSeconds / 60);
      heapTroughMibPerMinute[minute] = Math.min(heapTroughMibPerMinute[minute] ?? Infinity, s.heapUsedMib);
    }

    let metricsText = '';
    let readyz = { status: 0, body: '' };
    if (serverAlive) {
      const m = await request(`${base}/metrics`, { dispatcher: direct.admin });
      metricsText = await m.body.text();
      const r = await request(`${base}/readyz?verbose`, { dispatcher: direct.anonymous });
      readyz = { status: r.statusCode, body: await r.body.text() };
    }
    const parsed = parsePrometheusText(metricsText);
    const metrics: Record<string, number> = {};
    for (const s of reportedSeries) if (parsed.has(s)) metrics[s] = parsed.get(s)!;

    const logLevels: Record<string, number> = {};
    for (const line of readFileSync(logPath, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const level = String((JSON.parse(line) as { level?: unknown }).level);
        logLevels[level] = (logLevels[level] ?? 0) + 1;
      } catch {
        // a partial line at the end
      }
    }

    const kindReports: KindReport[] = kinds.map((k, i) => ({
      kind: k.name,
      path: k.path,
      expected: k.expected.join('|'),
      requests: tallies[i]!.requests,
      byOutcome: tallies[i]!.byOutcome,
      unexpected: tallies[i]!.unexpected,
      unexpectedExamples: tallies[i]!.examples,
    }));
    const mibs = rss.map((r) => r.mib);
    const report: SoakReport = {
      startedAt: new Date(t0).toISOString(),
      durationSeconds,
      concurrency,
      serverPid: pid,
      serverAlive,
      totalRequests: kindReports.reduce((a, k) => a + k.requests, 0),
      expectedRefusals: kindReports.reduce(
        (a, k) =>
          a +
          Object.entries(k.byOutcome).reduce(
            (b, [o, n]) => b + (o !== '200' && !o.startsWith('unexpected') ? n : 0),
            0,
          ),
        0,
      ),
      unexpected: kindReports.reduce((a, k) => a + k.unexpected, 0),
      kinds: kindReports,
      rss,
      rssMib: { start: mibs[0] ?? 0, peak: Math.max(0, ...mibs), end: mibs.at(-1) ?? 0 },
      heapTroughMibPerMinute: [...heapTroughMibPerMinute].map((v) => v ?? 0),
      ...(settled && { settled }),
      logLevels,
      metrics,
      metricsText,
      readyz,
    };
    if (opts.out) {
      mkdirSync(dirname(resolve(opts.out)), { recursive: true });
      const { metricsText: _omit, ...json } = report;
      writeFileSync(opts.out, JSON.stringify(json, null, 2) + '\n');
    }
    return report;
  } finally {
    await stopProcess(proc, 5_000);
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

/** The human-readable summary: one row per kind, then RSS and totals. */
export function formatSoakReport(r: SoakReport): string {
  const rows = r.kinds.map((k) => [
    k.path,
    k.kind,
    k.expected,
    String(k.requests),
    Object.entries(k.byOutcome)
      .map(([o, n]) => `${o}:${n}`)
      .join(' '),
    String(k.unexpected),
  ]);
  const head = ['via', 'kind', 'expected', 'requests', 'outcomes', 'unexpected'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const lines = [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)];
  lines.push('');
  lines.push(
    `duration ${r.durationSeconds.toFixed(0)}s, concurrency ${r.concurrency}, requests ${r.totalRequests} ` +
      `(${(r.totalRequests / r.durationSeconds).toFixed(1)}/s), expected refusals ${r.expectedRefusals}, unexpected ${r.unexpected}, ` +
      `server ${r.serverAlive ? 'alive' : 'DEAD'}`,
  );
  lines.push(`server RSS MiB: start ${r.rssMib.start}, peak ${r.rssMib.peak}, end ${r.rssMib.end}`);
  lines.push(`RSS samples (s:MiB): ${r.rss.map((s) => `${s.tSeconds}:${s.mib}`).join(' ')}`);
  lines.push(`V8 heap used, lowest sample per minute (MiB): ${r.heapTroughMibPerMinute.join(' ')}`);
  if (r.settled) {
    lines.push(`after the traffic, idle: RSS ${r.settled.rssMib} MiB, heap used ${r.settled.heapUsedMib} MiB`);
  }
  lines.push(`server log lines by level: ${JSON.stringify(r.logLevels)}`);
  lines.push(`/readyz?verbose at the end: HTTP ${r.readyz.status}: ${r.readyz.body.trim().split('\n').join(' | ')}`);
  lines.push('metrics at the end:');
  for (const [k, v] of Object.entries(r.metrics)) lines.push(`  ${k} ${v}`);
  for (const k of r.kinds) for (const e of k.unexpectedExamples) lines.push(`unexpected [${k.kind}] ${e}`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '6' },
      out: { type: 'string', default: join(repoRoot, '.kda/soak/latest.json') },
    },
  });
  const minutes = Number(values.minutes);
  const concurrency = Number(values.concurrency);
  if (!(minutes > 0 && minutes <= 24 * 60) || !(Number.isInteger(concurrency) && concurrency > 0)) {
    console.error('usage: npm run soak -- --minutes N [--concurrency C] [--out file.json]');
    return 2;
  }
  const log = (m: string) => console.error(`[soak] ${m}`);
  const report = await runSoak({ durationMs: minutes * 60_000, concurrency, out: values.out!, log });
  console.log(formatSoakReport(report));
  console.log(`report written to ${values.out}`);
  return report.unexpected === 0 && report.serverAlive ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
