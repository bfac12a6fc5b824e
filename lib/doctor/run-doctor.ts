import { loadConnectionConfig, type ConnectionConfig } from '../cluster/kubeconfig.js';
import { KubeApiError, RestClient } from '../cluster/rest-client.js';
import { buildReport, type DoctorCheck, type DoctorReport } from './report.js';
import { apiServiceChecks } from './checks-apiservice.js';
import { configMapChecks } from './checks-configmap.js';
import { rbacChecks } from './checks-rbac.js';
import { describeError, kubectl } from './fixes.js';
import type { DoctorOptions } from './options.js';

export type { DoctorOptions };

/**
 * Diagnoses a cluster's aggregation and delegated-auth setup from this process's identity. Never throws for
 * cluster problems: each becomes a `fail` check with the command that fixes it.
 */
export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  let conn: ConnectionConfig;
  try {
    conn = opts.connection ?? loadConnectionConfig({ kubeconfig: opts.kubeconfig, env: opts.env });
  } catch (err) {
    // Name what was given, so the one failing line says which file is at fault.
    const env = opts.env ?? process.env;
    const given = opts.kubeconfig
      ? `--kubeconfig ${opts.kubeconfig}: `
      : env.KUBECONFIG
        ? `$KUBECONFIG ${env.KUBECONFIG}: `
        : '';
    checks.push({
      id: 'connection',
      status: 'fail',
      message: given + describeError(err).replace(/\s*\n[\s\S]*$/, ''),
      fix: 'kube-delegated-auth doctor --kubeconfig <path-to-kubeconfig>   # or export KUBECONFIG=<path>',
    });
    return buildReport(checks);
  }
  const client = new RestClient({ connection: conn, timeout: opts.timeout ?? 10_000, qps: 0 });
  try {
    return await diagnose(client, conn, opts, checks);
  } finally {
    await client.close();
  }
}

async function diagnose(
  client: RestClient,
  conn: ConnectionConfig,
  opts: DoctorOptions,
  checks: DoctorCheck[],
): Promise<DoctorReport> {
  const now = opts.now ?? Date.now;
  let identity = conn.identity;
  // The name kube-apiserver really sees (impersonation, exec plugins, opaque tokens); GA since 1.28.
  try {
    const ssr = await client.post<{ status?: { userInfo?: { username?: string } } }>(
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    );
    identity = ssr.status?.userInfo?.username || identity;
    checks.push({
      id: 'connection',
      status: 'pass',
      message: `connected to ${conn.server} as ${identity ?? 'unknown'}`,
    });
  } catch (err) {
    if (err instanceof KubeApiError && err.statusCode === 401) {
      checks.push({
        id: 'connection',
        status: 'fail',
        message: `kube-apiserver at ${conn.server} refused the credentials (401)`,
        fix: `${kubectl(opts)} auth whoami   # then fix the credentials in ${conn.source}`,
      });
      return buildReport(checks, conn.source, identity);
    }
    if (!(err instanceof KubeApiError) || err.statusCode === undefined) {
      checks.push({
        id: 'connection',
        status: 'fail',
        message: `cannot reach kube-apiserver at ${conn.server}: ${describeError(err)}`,
        fix: `${kubectl(opts)} get --raw /readyz   # check the server and CA in ${conn.source}`,
      });
      return buildReport(checks, conn.source, identity);
    }
    // An older cluster without SelfSubjectReview: keep the guess from the credentials.
    checks.push({
      id: 'connection',
      status: 'pass',
      message: `connected to ${conn.server} as ${identity ?? 'unknown'}`,
    });
  }

  await rbacChecks(client, identity, checks);
  await configMapChecks(client, identity, opts, now(), checks);
  if (opts.group !== undefined || opts.version !== undefined) await apiServiceChecks(client, opts, checks);
  return buildReport(checks, conn.source, identity);
}
