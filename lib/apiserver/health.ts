// /healthz, /livez and /readyz with named checks, as Go's k8s.io/apiserver/pkg/server/healthz serves them: the same
// paths (one per check too), the same `?verbose` and `?exclude=` handling and the same text, byte for byte.
import type { DelegatedAuth } from '../delegated-auth.js';
import { InvalidOptionError } from '../errors.js';
import { noopLogger, type Logger } from '../log.js';
import type { HttpResponse } from '../http/status.js';
import { splitUrl, type BlockHandler } from './handler.js';

/**
 * One named health check, as Go's `healthz.HealthChecker`: `check()` returning (or resolving) means healthy, throwing
 * (or rejecting) means failing. The name is shown to anyone who asks `?verbose` and is the path of the check's own
 * endpoint (`/readyz/<name>`); the error goes to the log, and to `/readyz/<name>` callers (authorized, see
 * {@link healthEndpoints}).
 */
export interface HealthCheck {
  readonly name: string;
  check(): void | Promise<void>;
}

/** Go's `PingHealthz`: always healthy; every endpoint has it first. */
export const pingCheck: HealthCheck = Object.freeze({ name: 'ping', check: () => {} });

/**
 * Informer-style readiness (Go's `informer-sync` check): fails with "not synced yet" until `hasSynced()` first returns
 * (or resolves) true, then passes for good, as an informer's `HasSynced` never goes back. A predicate that throws is
 * a failing check, not a crash.
 */
export function informerSyncCheck(hasSynced: () => boolean | Promise<boolean>, name = 'informer-sync'): HealthCheck {
  let synced = false;
  return {
    name,
    async check() {
      if (!synced) synced = (await hasSynced()) === true;
      if (!synced) throw new Error('not synced yet');
    },
  };
}

/** Options of {@link trustSourceChecks}. */
export interface TrustSourceCheckOptions {
  /**
   * Fail readiness while the client CA (`--client-ca-file` or the ConfigMap's `client-ca-file`) is not loaded.
   * Default false: a cluster without a client CA is valid and only turns client-certificate users off, while the
   * front-proxy CA and header names are what the aggregator needs.
   */
  readonly requireClientCA?: boolean;
}

/** A check failure whose message is safe for `/readyz/<name>`; the detail (file path, API error) is for the log. */
class CheckFailure extends Error {
  readonly detail: string | undefined;
  constructor(message: string, detail: string | undefined) {
    super(message);
    this.detail = detail;
  }
}

/**
 * Readiness checks for the trust sources of a `delegatedAuth()` stack (its `status()`), one per source, named
 * `trust:<purpose>`: `trust:request-header` (the front-proxy CA), `trust:request-header-config` (the header names
 * from the ConfigMap), `trust:client-ca` / `trust:client-ca-bundle` (ConfigMap or file). A front-proxy source fails
 * until loaded (the ConfigMap synced, the CA file read); a last-known-good source serving through an error passes (Go
 * keeps serving it too) and is logged by the stack. With `authenticationSkipLookup` or
 * `authenticationTolerateLookupFailure` the operator chose to run without cluster trust, so nothing fails. The
 * purpose is the part of the source's name before `::`: its location (file path, ConfigMap) stays in the log.
 */
export function trustSourceChecks(
  stack: Pick<DelegatedAuth, 'status'> & { readonly options?: DelegatedAuth['options'] },
  options: TrustSourceCheckOptions = {},
): HealthCheck[] {
  const tolerant = Boolean(
    stack.options?.authenticationSkipLookup || stack.options?.authenticationTolerateLookupFailure,
  );
  const seen = new Set<string>();
  const checks: HealthCheck[] = [];
  for (const initial of stack.status()) {
    const purpose = initial.name.split('::')[0]!;
    const name = seen.has(purpose) ? `trust:${initial.name}` : `trust:${purpose}`;
    seen.add(purpose);
    const required =
      !tolerant &&
      (purpose.startsWith('request-header') || (options.requireClientCA === true && /^client-ca/.test(purpose)));
    checks.push({
      name,
      check() {
        const current = stack.status().find((s) => s.name === initial.name) ?? initial;
        if (!current.loaded && required) throw new CheckFailure(`${purpose} not loaded`, current.lastError);
      },
    });
  }
  return checks;
}

/** The checks of each endpoint; `ping` comes first on every one. */
export interface HealthEndpointsOptions {
  /** Go's `AddHealthChecks`: on /healthz, /livez and /readyz. */
  readonly checks?: readonly HealthCheck[];
  /** Go's `AddLivezChecks`: on /livez only (a failing one gets the process restarted: keep them to deadlocks). */
  readonly livezChecks?: readonly HealthCheck[];
  /**
   * Go's `AddReadyzChecks`: on /readyz only (trust sources, informer sync, shutdown): failing takes the replica out
   * of the Service, and the aggregator stops sending it requests.
   */
  readonly readyzChecks?: readonly HealthCheck[];
  /** Failing checks are logged at warn with their error (the response withholds it). Default silent. */
  readonly logger?: Logger;
}

const textHeaders = Object.freeze({
  'content-type': 'text/plain; charset=utf-8',
  'x-content-type-options': 'nosniff',
});

const endpointNames = ['healthz', 'livez', 'readyz'] as const;

/** Go's `fmt.Sprintf("%q", s)` for the names Go quotes in the exclude warning. */
function goQuoted(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(',');
}

/** The check's outcome: undefined when healthy, the error otherwise (a non-Error throw included). */
async function runCheck(check: HealthCheck): Promise<unknown> {
  try {
    await check.check();
    return undefined;
  } catch (err) {
    return err ?? new Error(String(err));
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function logFields(endpoint: string, name: string, err: unknown): Record<string, unknown> {
  const detail = err instanceof CheckFailure ? err.detail : undefined;
  return { endpoint, check: name, error: errorText(err), ...(detail !== undefined && { detail }) };
}

/**
 * Serves `/healthz`, `/livez`, `/readyz` and `/<endpoint>/<check name>` as Go's generic apiserver does:
 * - all checks pass: 200 `ok`; with `?verbose`, one `[+]<name> ok` line per check then `<endpoint> check passed`;
 * - one fails: 500 and always the verbose list, the failing one as `[-]<name> failed: reason withheld`, then
 *   `<endpoint> check failed`: the endpoint answers anyone (`--authorization-always-allow-paths`), so the reason is
 *   withheld, as Go withholds it, and logged;
 * - `?exclude=<name>` (repeatable) skips a check (`[+]<name> excluded: ok`); names that match no check are listed
 *   in a `warn: some health checks cannot be excluded: no matches for "<name>"` line, as Go does;
 * - `/readyz/<name>`: 200 `ok`, or 500 `internal server error: <error>` (Go's text, reason included: these paths
 *   are not in the always-allow list, so the caller was authorized; a check's error must still carry no secret).
 * Any method, as Go's mux. Other paths: undefined. Checks run concurrently and are reported in order.
 */
export function healthEndpoints(options: HealthEndpointsOptions = {}): BlockHandler {
  const logger = options.logger ?? noopLogger;
  const common = [pingCheck, ...(options.checks ?? [])];
  const byEndpoint: Record<(typeof endpointNames)[number], readonly HealthCheck[]> = {
    healthz: common,
    livez: [...common, ...(options.livezChecks ?? [])],
    readyz: [...common, ...(options.readyzChecks ?? [])],
  };
  const problems: string[] = [];
  for (const endpoint of endpointNames) {
    const names = new Set<string>();
    for (const c of byEndpoint[endpoint]) {
      if (typeof c?.name !== 'string' || c.name === '' || /[\s?#]/.test(c.name) || typeof c.check !== 'function') {
        problems.push(`${endpoint}: a check needs a name without spaces, ? or # and a check() function`);
      } else if (names.has(c.name)) problems.push(`${endpoint}: duplicate check name ${JSON.stringify(c.name)}`);
      names.add(c.name);
    }
  }
  if (problems.length > 0) throw new InvalidOptionError([...new Set(problems)]);

  const root = async (endpoint: string, checks: readonly HealthCheck[], query: URLSearchParams) => {
    const excluded = new Set(query.getAll('exclude'));
    const outcomes = await Promise.all(checks.map((c) => (excluded.has(c.name) ? 'excluded' : runCheck(c))));
    let lines = '';
    const failed: string[] = [];
    checks.forEach((c, i) => {
      const outcome = outcomes[i];
      if (outcome === 'excluded') {
        excluded.delete(c.name);
        lines += `[+]${c.name} excluded: ok\n`;
      } else if (outcome === undefined) {
        lines += `[+]${c.name} ok\n`;
      } else {
        lines += `[-]${c.name} failed: reason withheld\n`;
        failed.push(c.name);
        logger.warn(logFields(endpoint, c.name, outcome), `${endpoint} check ${c.name} failed`);
      }
    });
    if (excluded.size > 0) {
      lines += `warn: some health checks cannot be excluded: no matches for ${goQuoted([...excluded].sort())}\n`;
    }
    if (failed.length > 0) return text(500, `${lines}${endpoint} check failed\n`);
    if (!query.has('verbose')) return text(200, 'ok');
    return text(200, `${lines}${endpoint} check passed\n`);
  };

  const single = async (endpoint: string, check: HealthCheck): Promise<HttpResponse> => {
    const outcome = await runCheck(check);
    if (outcome === undefined) return text(200, 'ok');
    logger.warn(logFields(endpoint, check.name, outcome), `${endpoint} check ${check.name} failed`);
    return text(500, `internal server error: ${errorText(outcome)}\n`);
  };

  return async (request) => {
    const { path, query } = splitUrl(request.url);
    for (const endpoint of endpointNames) {
      const checks = byEndpoint[endpoint];
      if (path === `/${endpoint}`) return root(endpoint, checks, query);
      if (path.startsWith(`/${endpoint}/`)) {
        const check = checks.find((c) => `/${endpoint}/${c.name}` === path);
        return check ? single(endpoint, check) : undefined;
      }
    }
    return undefined;
  };
}

function text(status: number, body: string): HttpResponse {
  return { status, headers: textHeaders, body };
}
