import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import type { SecureContextOptions, TlsOptions } from 'node:tls';

/** Configuration every server under test receives (JSON in `BENCH_SERVER_CONFIG`). Paths, not PEM, to keep env small. */
export interface ServerConfig {
  readonly servingCertFile: string;
  readonly servingKeyFile: string;
  /** Trust anchors for client certificates (x509 authn). */
  readonly clientCaFile: string;
  /** Trust anchors for the front-proxy (requestheader) client certificate. */
  readonly requestheaderClientCaFile: string;
  readonly requestheaderAllowedNames?: readonly string[];
  /** Where SubjectAccessReviews / TokenReviews go (kubeconfig file for the server's own identity). */
  readonly reviewKubeconfigFile?: string;
  /** Authorizer cache TTLs in ms (Go defaults 10 s / 10 s; the bench uses longer to keep steady state cached). */
  readonly authorizedTtlMs?: number;
  readonly unauthorizedTtlMs?: number;
  /** Count X509Certificate verify/checkIssued calls (per-connection verification scenario). */
  readonly countVerifications?: boolean;
  /** Client-side QPS limit towards kube-apiserver; default Go's 200 (0 = unlimited: cache-miss and memory runs). */
  readonly reviewQps?: number;
  /**
   * Keep-alive connections to kube-apiserver (caps concurrent cache misses); lib/cluster's default otherwise. Either this
   * or `reviewQps` makes bench/servers/adapter.ts assemble the Koa stack from public parts (createDelegatedAuth has
   * no such options).
   */
  readonly reviewConnections?: number;
  /** Also accept bearer tokens through a cached TokenReview authenticator. */
  readonly tokenReview?: boolean;
  /** bench/servers/adapter.ts: the framework under test. */
  readonly framework?: 'koa' | 'express' | 'fastify' | 'node-http';
  /** bench/servers/adapter.ts: the framework alone on node:https (the baseline), no kube-delegated-auth. */
  readonly bare?: boolean;
  /**
   * Trust from the CA files and `requestheaderAllowedNames` (Go's flags) instead of the cluster's ConfigMap: for the
   * in-process review peer, which serves no ConfigMap.
   */
  readonly trustFromFiles?: boolean;
  /** With `bare`: the bare framework on `createSecureServer` (no auth) instead of node:https (what the server costs). */
  readonly bareOnSecureServer?: boolean;
}

export function readConfig(): ServerConfig {
  const raw = process.env.BENCH_SERVER_CONFIG;
  if (!raw) throw new Error('BENCH_SERVER_CONFIG is not set; start bench servers through bench/spawn.ts');
  return JSON.parse(raw) as ServerConfig;
}

/**
 * The one TLS setup all scenarios share: same serving cert, same client-CA union, `requestCert` with
 * `rejectUnauthorized:false` (the library checks chains itself and answers 401 instead of resetting the socket).
 */
export function tlsOptions(cfg: ServerConfig): TlsOptions & SecureContextOptions {
  return {
    cert: readFileSync(cfg.servingCertFile, 'utf8'),
    key: readFileSync(cfg.servingKeyFile, 'utf8'),
    ca: [readFileSync(cfg.clientCaFile, 'utf8'), readFileSync(cfg.requestheaderClientCaFile, 'utf8')],
    requestCert: true,
    rejectUnauthorized: false,
  };
}

/** Response body of every trivial handler (same bytes across scenarios, roughly a small kube list). */
export const trivialBody = JSON.stringify({
  kind: 'FlunderList',
  apiVersion: 'wardle.example.com/v1alpha1',
  metadata: { resourceVersion: '1' },
  items: [],
});

export type StatsFn = () => Record<string, unknown>;

interface ParentMessage {
  readonly type: 'stats' | 'gc' | 'exit' | 'reset';
}

const resetters: (() => void)[] = [];
/** Registers a callback run when the parent asks to reset counters between phases. */
export function onReset(fn: () => void): void {
  resetters.push(fn);
}

/**
 * Listens on 127.0.0.1:0, reports `{type:'ready', port}` over IPC (and on stdout for manual runs), and answers
 * `stats` / `gc` / `exit` requests from the bench parent.
 */
export function serve(server: Server, stats: StatsFn = () => ({})): void {
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    ready(typeof addr === 'object' && addr ? addr.port : 0);
  });
  answerParent(server, stats);
}

/** For servers that listen themselves (lib/server createSecureServer). */
export function serveListening(server: Server, port: number, stats: StatsFn = () => ({})): void {
  ready(port);
  answerParent(server, stats);
}

function ready(port: number): void {
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.send?.({ type: 'ready', port });
}

function answerParent(server: Server, stats: StatsFn): void {
  // Every bench server alike: keep idle connections for 2 min (Node's default is 5 s), so interleaved rounds and the
  // pre-connected burst clients find their connections still open instead of paying new handshakes.
  server.keepAliveTimeout = 120_000;
  // CPU per served request is the contention-proof cost metric: req/s on a shared 2-core box moves with the
  // neighbours, CPU time per request much less.
  let requestsServed = 0;
  server.on('request', () => requestsServed++);
  process.on('message', (m: ParentMessage) => {
    switch (m.type) {
      case 'stats': {
        const cpu = process.cpuUsage();
        process.send?.({
          type: 'stats',
          memory: process.memoryUsage(),
          extra: { ...stats(), requestsServed, cpuUs: cpu.user + cpu.system },
        });
        break;
      }
      case 'gc':
        (globalThis as { gc?: () => void }).gc?.();
        process.send?.({ type: 'gc-done' });
        break;
      case 'reset':
        for (const r of resetters) r();
        process.send?.({ type: 'reset-done' });
        break;
      case 'exit':
        // process.exit flushes --cpu-prof output; closing keep-alive sockets gracefully would only slow the bench down.
        server.closeAllConnections();
        server.close();
        process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
}

/**
 * Counts certificate-verification work in this process by wrapping X509Certificate methods. Measurement only: the
 * wrapped methods behave exactly as before.
 */
export async function countVerifications(server: Server): Promise<StatsFn> {
  const { X509Certificate } = await import('node:crypto');
  const proto = X509Certificate.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const counts: Record<string, { calls: number; ns: bigint }> = {};
  for (const name of ['verify', 'checkIssued', 'checkPrivateKey']) {
    const orig = proto[name];
    if (!orig) continue;
    const c = (counts[name] = { calls: 0, ns: 0n });
    proto[name] = function (this: unknown, ...args: unknown[]) {
      const t = process.hrtime.bigint();
      try {
        return orig.apply(this, args);
      } finally {
        c.ns += process.hrtime.bigint() - t;
        c.calls++;
      }
    };
  }
  let connections = 0;
  // A listener, not a wrapper: keep-alive requests must not pay anything for the counting.
  server.on('secureConnection', () => connections++);
  onReset(() => {
    connections = 0;
    for (const c of Object.values(counts)) {
      c.calls = 0;
      c.ns = 0n;
    }
  });
  return () => ({
    tlsConnections: connections,
    verification: Object.fromEntries(
      Object.entries(counts).map(([k, v]) => [k, { calls: v.calls, totalMs: Number(v.ns) / 1e6 }]),
    ),
  });
}
