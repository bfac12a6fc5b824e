// Graceful termination as Go's generic apiserver does it (k8s.io/apiserver pkg/server/genericapiserver.go): on
// SIGTERM `/readyz` fails at once (the `shutdown` check) while the server keeps serving for
// `--shutdown-delay-duration`, so endpoints controllers and load balancers take it out of rotation; then the listener
// closes, in-flight requests finish (keep-alive connections get `Connection: close`), long-running requests get
// `--shutdown-watch-termination-grace-period`, and a timeout bounds the whole drain. A second signal exits at once.
import { Server as NetServer, type Socket } from 'node:net';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { InvalidOptionError } from '../errors.js';
import { resolveRequestInfo } from '../http/request-info.js';
import { noopLogger, type Logger } from '../log.js';
import type { SecureServer } from '../server/secure-server.js';

/**
 * Where a graceful shutdown is:
 * - `running`: serving, `/readyz` passes;
 * - `delaying`: shutdown initiated, `/readyz` fails, everything else is served normally (`shutdownDelayDuration`);
 * - `draining`: the listener is closed, in-flight requests finish, keep-alive connections are closed;
 * - `closed`: every connection is gone.
 */
export type ShutdownPhase = 'running' | 'delaying' | 'draining' | 'closed';

/** Timers the shutdown uses; inject a fake one in tests. Default: the global `setTimeout`/`clearTimeout`. */
export interface ShutdownClock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A named readiness check in the shape the health endpoints take: throwing means failing. */
export interface ShutdownReadinessCheck {
  /** `shutdown`, the name Go's `/readyz` lists it under (`[-]shutdown failed`). */
  readonly name: 'shutdown';
  /** Throws `process is shutting down` (Go's message) once shutdown has been initiated. */
  check(): void;
}

export interface GracefulShutdownOptions {
  /** The server to drain: a `createSecureServer()` result, or a plain `node:https` / `node:http` server. */
  readonly server: SecureServer | HttpServer | HttpsServer;
  /**
   * Go's `--shutdown-delay-duration` (ms): how long the server keeps serving normally after shutdown is initiated,
   * with `/readyz` failing, before it stops accepting connections. Set it above the time your endpoints controller
   * and load balancers need to notice (readiness probe period × failure threshold, plus propagation). Default 0,
   * as Go.
   */
  readonly shutdownDelayDuration?: number;
  /**
   * Go's `--shutdown-watch-termination-grace-period` (ms): how long long-running requests (watches; see
   * `isLongRunning`) may continue once draining starts; then their responses are ended cleanly, so clients re-watch
   * elsewhere. Default 0, as Go: they are ended when draining starts.
   */
  readonly shutdownWatchTerminationGracePeriod?: number;
  /**
   * Bound (ms) of the drain, counted from its start, after which every remaining connection is destroyed and the
   * shutdown completes (Go's `Config.ShutdownTimeout`, the `http.Server.Shutdown` deadline; it defaults to the
   * request timeout, 60 s). Keep `shutdownDelayDuration` + this below the pod's `terminationGracePeriodSeconds`.
   * Default 60_000.
   */
  readonly shutdownTimeout?: number;
  /**
   * Which requests are long-running (get the watch grace period instead of being waited for). Default: Go's
   * `BasicLongRunningRequestCheck` — verbs `watch` and `proxy`, subresources `attach`, `exec`, `proxy`, `log`,
   * `portforward`.
   */
  readonly isLongRunning?: (req: IncomingMessage) => boolean;
  /**
   * During the delay, answer with `Connection: close`, so clients retire their kept-alive connections one response at
   * a time and dial again through the Service, which by then routes to ready replicas. Without it a client (the
   * aggregator) keeps sending over the connections it holds until the drain closes them, and a request written on an
   * idle connection just as the server closes it fails without retry unless it is idempotent. Go's servers need no
   * such step with HTTP/2 clients (GOAWAY at drain); a Node server speaks HTTP/1.1. Default true.
   */
  readonly closeKeepAliveDuringDelay?: boolean;
  /**
   * Process signals that initiate the shutdown; a second one exits at once with status 1 (Go's "second signal,
   * exiting directly"). Default `['SIGTERM', 'SIGINT']`, as Go; `[]` installs no handler (call `shutdown()`).
   */
  readonly signals?: readonly NodeJS.Signals[];
  /** Called with 1 on the second signal. Default `process.exit`. */
  readonly exit?: (code: number) => void;
  readonly clock?: ShutdownClock;
  readonly logger?: Logger;
}

export interface GracefulShutdown {
  readonly phase: ShutdownPhase;
  /** Add it to `/readyz` (and only there: `/livez` and `/healthz` keep passing during the delay, as Go). */
  readonly readinessCheck: ShutdownReadinessCheck;
  /** Requests being served now (long-running included). */
  readonly inFlight: number;
  /** Initiates the shutdown (as the first signal does); resolves when every connection is closed. Idempotent. */
  shutdown(reason?: string): Promise<void>;
  /** Resolves once the phase is `phase` or later. */
  whenPhase(phase: ShutdownPhase): Promise<void>;
  /** Removes the signal handlers; a shutdown already started continues. */
  dispose(): void;
}

/** Go's message of the failing `shutdown` readyz check. */
export const shutdownCheckMessage = 'process is shutting down';
/** Default drain bound (ms): Go's `Config.ShutdownTimeout` default, the 60 s request timeout. */
export const defaultShutdownTimeout = 60_000;

const phaseOrder: readonly ShutdownPhase[] = ['running', 'delaying', 'draining', 'closed'];
const longRunningVerbs = new Set(['watch', 'proxy']);
const longRunningSubresources = new Set(['attach', 'exec', 'proxy', 'log', 'portforward']);

/** Go's `BasicLongRunningRequestCheck(watch, proxy; attach, exec, proxy, log, portforward)`. */
export function isLongRunningRequest(req: IncomingMessage): boolean {
  const result = resolveRequestInfo(req.method ?? 'GET', req.url ?? '/');
  const info = result.info;
  return longRunningVerbs.has(info.verb) || longRunningSubresources.has(info.subresource);
}

const realClock: ShutdownClock = {
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

function validate(opts: GracefulShutdownOptions): void {
  const problems: string[] = [];
  const s = opts.server as unknown;
  const isNodeServer = s instanceof NetServer;
  const isSecureServer = typeof s === 'object' && s !== null && (s as { server?: unknown }).server instanceof NetServer;
  if (!isNodeServer && !isSecureServer) {
    problems.push('"server" must be a createSecureServer() result or a node:http / node:https server');
  }
  const durations = [
    ['shutdownDelayDuration', '--shutdown-delay-duration'],
    ['shutdownWatchTerminationGracePeriod', '--shutdown-watch-termination-grace-period'],
  ] as const;
  for (const [k, flag] of durations) {
    const v = opts[k];
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) {
      problems.push(`"${k}" (${flag}) must be a number of ms >= 0, got ${String(v)}`);
    }
  }
  const t = opts.shutdownTimeout;
  if (t !== undefined && (!Number.isFinite(t) || t <= 0)) {
    problems.push(`"shutdownTimeout" must be a positive number of ms, got ${String(t)}`);
  }
  if (opts.isLongRunning !== undefined && typeof opts.isLongRunning !== 'function') {
    problems.push('"isLongRunning" must be a function');
  }
  if (opts.signals !== undefined && !Array.isArray(opts.signals)) problems.push('"signals" must be an array');
  const c = opts.closeKeepAliveDuringDelay;
  if (c !== undefined && typeof c !== 'boolean') problems.push('"closeKeepAliveDuringDelay" must be a boolean');
  if (problems.length > 0) throw new InvalidOptionError(problems);
}

/**
 * Go's graceful termination for a Node server. Create it right after the server, before it listens (requests that
 * started earlier are not tracked), and add `readinessCheck` to `/readyz`:
 *
 * ```ts
 * const shutdown = gracefulShutdown({ server, shutdownDelayDuration: 10_000 });
 * // readyz checks: [..., shutdown.readinessCheck]
 * await shutdown.whenPhase('closed'); // after SIGTERM; then close your clients and let the process end
 * ```
 *
 * Sequence after the first SIGTERM/SIGINT or `shutdown()`: `readinessCheck` fails at once; requests keep being served
 * for `shutdownDelayDuration` (with `Connection: close`, see `closeKeepAliveDuringDelay`); then the listener closes, idle keep-alive connections are closed, every
 * response still to be sent gets `Connection: close` and its connection is closed once it is sent, long-running
 * requests are ended after `shutdownWatchTerminationGracePeriod`, and whatever is left after `shutdownTimeout` is
 * destroyed. A `createSecureServer()` server is then closed too (its certificate watchers stop).
 */
export function gracefulShutdown(opts: GracefulShutdownOptions): GracefulShutdown {
  validate(opts);
  const logger = opts.logger ?? noopLogger;
  const clock = opts.clock ?? realClock;
  const delay = opts.shutdownDelayDuration ?? 0;
  const watchGrace = opts.shutdownWatchTerminationGracePeriod ?? 0;
  const timeout = opts.shutdownTimeout ?? defaultShutdownTimeout;
  const isLongRunning = opts.isLongRunning ?? isLongRunningRequest;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const closeDuringDelay = opts.closeKeepAliveDuringDelay ?? true;
  const secure = opts.server instanceof NetServer ? undefined : opts.server;
  const server: NetServer = secure ? secure.server : (opts.server as NetServer);
  const http = server as HttpServer;

  let phase: ShutdownPhase = 'running';
  const waiters = new Map<ShutdownPhase, (() => void)[]>();
  const sockets = new Set<Socket>();
  const normal = new Set<ServerResponse>();
  const longRunning = new Set<ServerResponse>();
  let graceOver = false;
  let done: Promise<void> | undefined;
  const timers: unknown[] = [];

  function setPhase(next: ShutdownPhase): void {
    phase = next;
    for (const p of phaseOrder.slice(0, phaseOrder.indexOf(next) + 1)) {
      for (const w of waiters.get(p)?.splice(0) ?? []) w();
    }
  }

  function whenPhase(p: ShutdownPhase): Promise<void> {
    if (phaseOrder.indexOf(phase) >= phaseOrder.indexOf(p)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = waiters.get(p) ?? [];
      list.push(resolve);
      waiters.set(p, list);
    });
  }

  // Raw sockets (the TCP socket under TLS too), so the timeout can destroy upgraded connections as well.
  const onConnection = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const set = isLongRunning(req) ? longRunning : normal;
    set.add(res);
    res.once('close', () => {
      set.delete(res);
      if (phase === 'draining') {
        // The connection just became idle (keep-alive): close it, and see whether the drain is complete.
        setImmediate(() => {
          http.closeIdleConnections();
          checkDrained();
        });
      }
    });
    if (phase === 'delaying' && closeDuringDelay) res.shouldKeepAlive = false;
    if (phase === 'draining') {
      // A request that raced the listener close on a kept-alive connection: served, then the connection closes.
      res.shouldKeepAlive = false;
      if (set === longRunning && graceOver) setImmediate(() => endResponse(res));
    }
  };
  server.prependListener('connection', onConnection);
  server.prependListener('request', onRequest);

  function endResponse(res: ServerResponse): void {
    if (res.writableEnded) return;
    if (!res.headersSent) res.shouldKeepAlive = false;
    // A clean end (the terminating chunk of a watch stream): the client sees the watch close and re-watches.
    res.end();
  }

  let resolveDrained: (() => void) | undefined;
  function checkDrained(): void {
    if (phase !== 'draining' || !resolveDrained) return;
    if (normal.size > 0 || (longRunning.size > 0 && !graceOver)) return;
    for (const res of longRunning) endResponse(res);
    if (longRunning.size > 0) return;
    const r = resolveDrained;
    resolveDrained = undefined;
    r();
  }

  async function drain(): Promise<void> {
    setPhase('draining');
    logger.info(
      { inFlight: normal.size, longRunning: longRunning.size, shutdownWatchTerminationGracePeriod: watchGrace },
      'shutdown: no longer accepting connections, draining in-flight requests',
    );
    const listenerClosed = new Promise<void>((resolve) => {
      if (!server.listening) resolve();
      else server.close(() => resolve());
    });
    for (const res of [...normal, ...longRunning]) if (!res.headersSent) res.shouldKeepAlive = false;
    http.closeIdleConnections();
    let timedOut = false;
    const drained = new Promise<void>((resolve) => {
      resolveDrained = resolve;
      const graceEnd = () => {
        graceOver = true;
        checkDrained();
      };
      if (watchGrace === 0) graceOver = true;
      else timers.push(clock.setTimeout(graceEnd, watchGrace));
      timers.push(
        clock.setTimeout(() => {
          timedOut = true;
          resolve();
        }, timeout),
      );
      checkDrained();
    });
    await drained;
    if (timedOut) {
      logger.warn(
        { inFlight: normal.size, longRunning: longRunning.size, connections: sockets.size, shutdownTimeout: timeout },
        'shutdown: timeout reached, closing the remaining connections',
      );
      for (const s of sockets) s.destroy();
    } else {
      http.closeIdleConnections();
      // What remains carries no request: upgraded connections (closed like Go's hijacked ones) and connections
      // still sending a request head.
      for (const s of sockets) if (!s.destroyed) s.end();
      timers.push(
        clock.setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, timeout),
      );
    }
    await listenerClosed;
    await secure?.close();
  }

  const onSignal = (signal: NodeJS.Signals) => {
    if (phase === 'running') {
      void shutdown(`received ${signal}`);
      return;
    }
    logger.warn({ signal, phase }, 'shutdown: second signal, exiting directly');
    exit(1);
  };
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  for (const s of signals) process.on(s, onSignal);
  const dispose = () => {
    for (const s of signals) process.off(s, onSignal);
  };

  function shutdown(reason = 'shutdown() called'): Promise<void> {
    if (done) return done;
    setPhase('delaying');
    if (closeDuringDelay) for (const res of normal) if (!res.headersSent) res.shouldKeepAlive = false;
    logger.info(
      { reason, shutdownDelayDuration: delay },
      'shutdown initiated: /readyz failing, serving until the shutdown delay ends',
    );
    done = (async () => {
      if (delay > 0) await new Promise<void>((resolve) => timers.push(clock.setTimeout(resolve, delay)));
      await drain();
      for (const t of timers.splice(0)) clock.clearTimeout(t);
      server.off('connection', onConnection);
      server.off('request', onRequest);
      dispose();
      setPhase('closed');
      logger.info({}, 'shutdown: all connections closed');
    })();
    return done;
  }

  return {
    get phase() {
      return phase;
    },
    readinessCheck: {
      name: 'shutdown',
      check() {
        if (phase !== 'running') throw new Error(shutdownCheckMessage);
      },
    },
    get inFlight() {
      return normal.size + longRunning.size;
    },
    shutdown,
    whenPhase,
    dispose,
  };
}
