import { performance } from 'node:perf_hooks';
import { createSecureContext, type SecureContext } from 'node:tls';
import { Pool, Client } from 'undici';

/** Client TLS material of the load generator (PEM). */
export interface LoadTls {
  readonly ca: string;
  /** Client certificate chain; omit to connect without one (bearer-token scenarios). */
  readonly cert?: string;
  readonly key?: string;
  /** SNI / name checked against the serving certificate; default `localhost`. */
  readonly servername?: string;
}

export type HeaderValues = Record<string, string | string[]>;

export interface LoadOptions {
  /** `https://127.0.0.1:<port>` */
  readonly origin: string;
  readonly tls: LoadTls;
  /** Path (with query) requested; a function gets the global request index. */
  readonly path: string | ((i: number) => string);
  /** Request headers; a function gets the global request index (used for distinct identities). */
  readonly headers?: HeaderValues | ((i: number) => HeaderValues);
  /** Concurrent connections (= requests in flight, pipelining is 1). Default 32. */
  readonly connections?: number;
  /** Measured phase length in ms. Default 10_000. */
  readonly durationMs?: number;
  /** Stop after this many measured requests even if the duration has not elapsed. Default: unbounded (duration only). */
  readonly maxRequests?: number;
  /** Unmeasured warm-up in ms (JIT, caches, connection setup). Default 1_000. */
  readonly warmupMs?: number;
  /** Status that counts as success; anything else is counted as an error `status_<code>`. Default 200. */
  readonly expectStatus?: number;
  /**
   * Open a new TLS connection for every request (`Connection: close`) and disable TLS session resumption, so every
   * request pays a full handshake plus the server's per-connection certificate verification. Default false.
   */
  readonly newConnectionPerRequest?: boolean;
  /** Reuse this pool (kept open, so later slices of an interleaved run skip connection setup). */
  readonly pool?: Pool;
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly errorsByKind: Record<string, number>;
  readonly durationMs: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** A LoadResult plus the raw latencies (ms), so slices of one case can be merged. */
export interface RawLoadResult extends LoadResult {
  readonly latencies: Float64Array;
  /** Responses received including warm-up ones (what the server served during the call). */
  readonly completedIncludingWarmup?: number;
}

function errorKind(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown };
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.name === 'string') return e.name;
  return 'unknown';
}

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Summarises latencies (ms) recorded over `durationMs`. */
export function summarise(
  latencies: Float64Array,
  errorsByKind: Record<string, number>,
  durationMs: number,
): RawLoadResult {
  const sorted = Float64Array.from(latencies).sort();
  const errors = Object.values(errorsByKind).reduce((a, b) => a + b, 0);
  return {
    requests: sorted.length,
    errors,
    errorsByKind,
    durationMs,
    rps: (sorted.length / durationMs) * 1000,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! : NaN,
    latencies: sorted,
  };
}

/** Merges slices of the same case measured at different times: total requests over total measured time. */
export function mergeResults(parts: readonly RawLoadResult[]): RawLoadResult {
  let n = 0;
  for (const p of parts) n += p.latencies.length;
  const all = new Float64Array(n);
  let o = 0;
  const errorsByKind: Record<string, number> = {};
  let durationMs = 0;
  for (const p of parts) {
    all.set(p.latencies, o);
    o += p.latencies.length;
    durationMs += p.durationMs;
    for (const [k, v] of Object.entries(p.errorsByKind)) errorsByKind[k] = (errorsByKind[k] ?? 0) + v;
  }
  return summarise(all, errorsByKind, durationMs);
}

/** The pool runLoad would create, for callers that keep it across slices. */
export function createPool(origin: string, tls: LoadTls, connections: number, newConnectionPerRequest = false): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    connect: connectOptions(tls, newConnectionPerRequest),
    keepAliveTimeout: 60_000,
  });
}

const contexts = new WeakMap<LoadTls, SecureContext>();

function connectOptions(tls: LoadTls, newConnectionPerRequest: boolean) {
  // One SecureContext per identity: passing PEM strings would make every new connection re-parse the CA, the
  // certificate and the private key, and the load generator would measure itself in the per-connection scenario.
  let secureContext = contexts.get(tls);
  if (!secureContext) {
    secureContext = createSecureContext({
      ca: tls.ca,
      ...(tls.cert !== undefined && { cert: tls.cert, key: tls.key }),
    });
    contexts.set(tls, secureContext);
  }
  return {
    secureContext,
    servername: tls.servername ?? 'localhost',
    // Resumed sessions skip the certificate exchange; the per-connection scenario wants the full cost.
    ...(newConnectionPerRequest ? { maxCachedSessions: 0 } : {}),
  };
}

/**
 * Closed-loop load: `connections` workers each keep one request in flight on a bounded undici Pool until the duration
 * elapses or `maxRequests` have completed. Latency is measured per request from dispatch to the end of the body.
 */
export async function runLoad(opts: LoadOptions): Promise<RawLoadResult> {
  const connections = opts.connections ?? 32;
  const durationMs = opts.durationMs ?? 10_000;
  const warmupMs = opts.warmupMs ?? 1_000;
  const maxRequests = opts.maxRequests ?? Number.POSITIVE_INFINITY;
  const expectStatus = opts.expectStatus ?? 200;
  const fresh = opts.newConnectionPerRequest ?? false;
  const pool = opts.pool ?? createPool(opts.origin, opts.tls, connections, fresh);
  const pathOf = typeof opts.path === 'function' ? opts.path : () => opts.path as string;
  const headersOf = typeof opts.headers === 'function' ? opts.headers : () => (opts.headers ?? {}) as HeaderValues;

  let capacity = 1 << 16;
  let latencies = new Float64Array(capacity);
  let count = 0;
  let issued = 0;
  let completed = 0;
  const errorsByKind: Record<string, number> = {};
  let measuring = warmupMs <= 0;
  let stopped = false;
  let measureStart = measuring ? performance.now() : 0;
  let measureEnd = 0;

  const record = (ms: number) => {
    if (count === capacity) {
      capacity *= 2;
      const next = new Float64Array(capacity);
      next.set(latencies);
      latencies = next;
    }
    latencies[count++] = ms;
  };
  const fail = (kind: string) => {
    if (measuring) errorsByKind[kind] = (errorsByKind[kind] ?? 0) + 1;
  };

  const worker = async () => {
    while (!stopped) {
      const i = issued++;
      const wasMeasuring = measuring;
      const t0 = performance.now();
      try {
        const res = await pool.request({
          origin: opts.origin,
          path: pathOf(i),
          method: 'GET',
          headers: headersOf(i),
          ...(fresh ? { reset: true } : {}),
        });
        await res.body.dump();
        completed++;
        const ms = performance.now() - t0;
        // Requests started during warm-up are not measured, even if they finish after it.
        if (wasMeasuring && measuring) {
          if (res.statusCode === expectStatus) record(ms);
          else fail(`status_${res.statusCode}`);
          if (count + sumErrors() >= maxRequests) stop();
        }
      } catch (err) {
        if (wasMeasuring) fail(errorKind(err));
        if (stopped) break;
      }
    }
  };
  const sumErrors = () => {
    let n = 0;
    for (const k in errorsByKind) n += errorsByKind[k]!;
    return n;
  };
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    measureEnd = performance.now();
    if (timer) clearTimeout(timer);
  };

  const workers: Promise<void>[] = [];
  for (let w = 0; w < connections; w++) workers.push(worker());
  await new Promise<void>((resolve) => {
    const startMeasuring = () => {
      measuring = true;
      measureStart = performance.now();
      timer = setTimeout(() => {
        stop();
        resolve();
      }, durationMs);
      // maxRequests may stop earlier; poll cheaply for it.
      const poll = setInterval(() => {
        if (stopped) {
          clearInterval(poll);
          resolve();
        }
      }, 20);
      poll.unref();
    };
    if (measuring) startMeasuring();
    else setTimeout(startMeasuring, warmupMs);
  });
  await Promise.all(workers);
  if (!opts.pool) await pool.close();
  const elapsed = measureEnd - measureStart;
  return { ...summarise(latencies.subarray(0, count), errorsByKind, elapsed), completedIncludingWarmup: completed };
}

export interface BurstOptions {
  readonly origin: string;
  readonly tls: LoadTls;
  /** Number of simultaneous requests; each gets its own pre-connected keep-alive connection. */
  readonly requests: number;
  /** Path requested by every connection during warm-up (must not trigger the code under test, e.g. `/healthz`). */
  readonly warmupPath: string;
  readonly warmupHeaders?: HeaderValues;
  readonly path: string | ((i: number) => string);
  readonly headers: (i: number) => HeaderValues;
}

export interface BurstResult {
  readonly requests: number;
  readonly statusCounts: Record<string, number>;
  readonly elapsedMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * A truly concurrent burst: opens `requests` connections (one undici Client each), warms each with one request so the
 * TLS handshakes are out of the way, then releases all requests in the same tick so they are all in flight at the
 * server together.
 */
export async function runBurst(opts: BurstOptions): Promise<BurstResult> {
  const clients: Client[] = [];
  try {
    for (let i = 0; i < opts.requests; i++) {
      clients.push(
        new Client(opts.origin, {
          pipelining: 1,
          connect: connectOptions(opts.tls, false),
          keepAliveTimeout: 120_000,
          keepAliveMaxTimeout: 120_000,
        }),
      );
    }
    // Warm in batches so the handshakes don't time out on a 2-core machine.
    const batch = 100;
    for (let i = 0; i < clients.length; i += batch) {
      await Promise.all(
        clients.slice(i, i + batch).map(async (c) => {
          const r = await c.request({
            path: opts.warmupPath,
            method: 'GET',
            headers: opts.warmupHeaders ?? {},
          });
          await r.body.dump();
        }),
      );
    }
    const pathOf = typeof opts.path === 'function' ? opts.path : () => opts.path as string;
    const statusCounts: Record<string, number> = {};
    const latencies = new Float64Array(clients.length);
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c, i) => {
        const s = performance.now();
        try {
          const r = await c.request({
            path: pathOf(i),
            method: 'GET',
            headers: opts.headers(i),
          });
          await r.body.dump();
          statusCounts[r.statusCode] = (statusCounts[r.statusCode] ?? 0) + 1;
        } catch (err) {
          const k = errorKind(err);
          statusCounts[k] = (statusCounts[k] ?? 0) + 1;
        }
        latencies[i] = performance.now() - s;
      }),
    );
    const elapsedMs = performance.now() - t0;
    const sorted = latencies.sort();
    return {
      requests: clients.length,
      statusCounts,
      elapsedMs,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}
