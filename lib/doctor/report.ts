/** The outcome of one doctor check. */
export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface DoctorCheck {
  /** Stable identifier for machines, e.g. `configmap.key.client-ca-file`, `rbac.tokenreviews`, `apiservice.available`. */
  readonly id: string;
  readonly status: CheckStatus;
  /** One line saying what was found. */
  readonly message: string;
  /** The exact command (or flag) that fixes a warn/fail. */
  readonly fix?: string;
}

export interface DoctorReport {
  /** Where the connection came from (`kubeconfig:<path>`, `in-cluster`). */
  readonly source?: string;
  /** The identity kube-apiserver saw (SelfSubjectReview), or the best guess from the credentials. */
  readonly identity?: string;
  readonly checks: readonly DoctorCheck[];
  readonly summary: { readonly pass: number; readonly warn: number; readonly fail: number };
  /** True when no check failed (warnings allowed). */
  readonly ok: boolean;
}

export function buildReport(checks: readonly DoctorCheck[], source?: string, identity?: string): DoctorReport {
  const summary = { pass: 0, warn: 0, fail: 0 };
  for (const c of checks) summary[c.status]++;
  return {
    ...(source !== undefined && { source }),
    ...(identity !== undefined && { identity }),
    checks,
    summary,
    ok: summary.fail === 0,
  };
}

const label: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** Human output: one line per check, the fix indented below warnings and failures, a summary last. */
export function formatReport(report: DoctorReport): string {
  const lines: string[] = [];
  if (report.source || report.identity) {
    lines.push(`cluster: ${report.source ?? 'unknown'}${report.identity ? `, identity: ${report.identity}` : ''}`);
  }
  for (const c of report.checks) {
    lines.push(`${label[c.status]}  ${c.id}: ${c.message}`);
    if (c.fix && c.status !== 'pass') lines.push(`      fix: ${c.fix}`);
  }
  const { pass, warn, fail } = report.summary;
  lines.push(`${pass} passed, ${warn} warning${warn === 1 ? '' : 's'}, ${fail} failed`);
  return lines.join('\n') + '\n';
}
