/** One named health check; returns an error message when failing, undefined when healthy. */
export interface HealthCheck {
  readonly name: string;
  check(): string | undefined;
  /** Extra text after `ok` in verbose output (e.g. "serving last-known-good since ..."). */
  note?(): string | undefined;
}

export interface HealthReport {
  readonly status: number;
  readonly body: string;
  /** Failing checks with their messages, for the log (the body withholds reasons, as Go does). */
  readonly failures: readonly { readonly name: string; readonly error: string }[];
}

/**
 * Go's healthz handler output: `ok` when all pass and not verbose; otherwise one `[+]name ok` / `[-]name failed:
 * reason withheld` line per check then `<endpoint> check passed|failed`. Failing → 500. Reasons are withheld because
 * these endpoints are reachable without authorization; they go to the log instead.
 */
export function runHealthChecks(endpoint: string, checks: readonly HealthCheck[], verbose: boolean): HealthReport {
  const lines: string[] = [];
  const failures: { name: string; error: string }[] = [];
  for (const c of checks) {
    let error: string | undefined;
    try {
      error = c.check();
    } catch (err) {
      error = (err as Error).message;
    }
    if (error !== undefined) {
      failures.push({ name: c.name, error });
      lines.push(`[-]${c.name} failed: reason withheld`);
    } else {
      const note = c.note?.();
      lines.push(`[+]${c.name} ok${note ? ` (${note})` : ''}`);
    }
  }
  if (failures.length > 0) {
    return { status: 500, body: `${lines.join('\n')}\n${endpoint} check failed\n`, failures };
  }
  if (!verbose) return { status: 200, body: 'ok', failures };
  return { status: 200, body: `${lines.join('\n')}\n${endpoint} check passed\n`, failures };
}

/** The check every endpoint has. */
export const pingCheck: HealthCheck = { name: 'ping', check: () => undefined };
