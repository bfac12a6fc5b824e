/** One named health check; returns an error message when failing, undefined when healthy. */
export interface HealthCheck {
  /**
   * The check's name. Only the part before the first `::` is shown to callers: Go names dynamic content
   * `<purpose>::<location>` (`client-ca-bundle::/etc/ca.crt`, `request-header::kube-system::<configmap>::<key>`), and
   * the location (file paths, ConfigMaps) is for the log, never for these unauthenticated endpoints.
   */
  readonly name: string;
  check(): string | undefined;
  /** State worth logging while healthy (e.g. "serving last-known-good since ..."); never shown to callers. */
  note?(): string | undefined;
}

export interface HealthReport {
  readonly status: number;
  readonly body: string;
  /** Failing checks (full names) with their messages, for the log (the body withholds reasons, as Go does). */
  readonly failures: readonly { readonly name: string; readonly error: string }[];
  /** Passing checks' notes (full names), for the log; the body withholds them. */
  readonly notes: readonly { readonly name: string; readonly note: string }[];
}

/** The name a check is shown under: its purpose, without the `::<location>` part (see {@link HealthCheck.name}). */
export function publicCheckName(name: string): string {
  const i = name.indexOf('::');
  return i < 0 ? name : name.slice(0, i);
}

/**
 * Go's healthz handler output: `ok` when all pass and not verbose; otherwise one `[+]name ok` / `[-]name failed:
 * reason withheld` line per check then `<endpoint> check passed|failed`. Failing → 500. These endpoints answer
 * anyone (`--authorization-always-allow-paths`), so the body carries check names only, as Go's does: no reasons, no
 * notes, no file paths or ConfigMap locations, no CA subjects. The details are in `failures` and `notes`, for the
 * log. (Details for authorized callers were considered and left out: the log and the trust metrics already carry
 * them, and a second, authorized variant of an always-allowed path would be easy to misconfigure.)
 */
export function runHealthChecks(endpoint: string, checks: readonly HealthCheck[], verbose: boolean): HealthReport {
  const lines: string[] = [];
  const failures: { name: string; error: string }[] = [];
  const notes: { name: string; note: string }[] = [];
  for (const c of checks) {
    const shown = publicCheckName(c.name);
    let error: string | undefined;
    try {
      error = c.check();
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (error !== undefined) {
      failures.push({ name: c.name, error });
      lines.push(`[-]${shown} failed: reason withheld`);
      continue;
    }
    let note: string | undefined;
    try {
      note = c.note?.();
    } catch (err) {
      note = `note failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (note) notes.push({ name: c.name, note });
    lines.push(`[+]${shown} ok`);
  }
  if (failures.length > 0) {
    return { status: 500, body: `${lines.join('\n')}\n${endpoint} check failed\n`, failures, notes };
  }
  if (!verbose) return { status: 200, body: 'ok', failures, notes };
  return { status: 200, body: `${lines.join('\n')}\n${endpoint} check passed\n`, failures, notes };
}

/** The check every endpoint has. */
export const pingCheck: HealthCheck = { name: 'ping', check: () => undefined };
