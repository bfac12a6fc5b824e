import type { X509Certificate } from 'node:crypto';
import { configMapKeys, deserializeStrings } from '../cluster/configmap-parsing.js';
import { loadConnectionConfig, rolebindingFixCommand, type ConnectionConfig } from '../cluster/kubeconfig.js';
import { KubeApiError, RestClient } from '../cluster/rest-client.js';
import { parsePemBundle } from '../trust/pem.js';
import { buildReport, type DoctorCheck, type DoctorReport } from './report.js';

export interface DoctorOptions {
  /** kubeconfig path; default `KUBECONFIG`, then the in-cluster service account (as `serve`). */
  readonly kubeconfig?: string;
  /** A ready connection (wins over `kubeconfig`); for embedding and tests. */
  readonly connection?: ConnectionConfig;
  /** API group of the APIService to check (with `version`). Default: no APIService checks. */
  readonly group?: string;
  /** API version of the APIService to check (with `group`). */
  readonly version?: string;
  /**
   * Which ConfigMap to read instead of kube-system/extension-apiserver-authentication, e.g. an edited copy to check
   * before applying it. Default: the real one.
   */
  readonly configMap?: { readonly namespace: string; readonly name: string };
  /** A CA expiring within this many days is a warning. Default 30. */
  readonly expiryWarningDays?: number;
  /** Per-request timeout in ms. Default 10000. */
  readonly timeout?: number;
  /** Environment for `KUBECONFIG` / in-cluster lookup. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Clock, ms since epoch. Default `Date.now`. */
  readonly now?: () => number;
}

const configMapName = 'extension-apiserver-authentication';
const day = 24 * 60 * 60 * 1000;

interface ConfigMap {
  readonly data?: Readonly<Record<string, string>>;
}

interface ApiServiceCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

interface ApiService {
  readonly spec?: {
    readonly service?: { readonly namespace?: string; readonly name?: string; readonly port?: number } | null;
    readonly caBundle?: string;
    readonly insecureSkipTLSVerify?: boolean;
  };
  readonly status?: { readonly conditions?: readonly ApiServiceCondition[] };
}

/** What each key is, and the kube-apiserver flag that writes it. */
const keyFlags: readonly { key: string; flag: string; example: string; required: boolean }[] = [
  {
    key: configMapKeys.clientCA,
    flag: '--client-ca-file',
    example: '/etc/kubernetes/pki/ca.crt',
    required: true,
  },
  {
    key: configMapKeys.requestHeaderCA,
    flag: '--requestheader-client-ca-file',
    example: '/etc/kubernetes/pki/front-proxy-ca.crt',
    required: true,
  },
  {
    key: configMapKeys.usernameHeaders,
    flag: '--requestheader-username-headers',
    example: 'X-Remote-User',
    required: true,
  },
  {
    key: configMapKeys.groupHeaders,
    flag: '--requestheader-group-headers',
    example: 'X-Remote-Group',
    required: true,
  },
  {
    key: configMapKeys.extraHeaderPrefixes,
    flag: '--requestheader-extra-headers-prefix',
    example: 'X-Remote-Extra-',
    required: true,
  },
  {
    key: configMapKeys.allowedNames,
    flag: '--requestheader-allowed-names',
    example: 'front-proxy-client',
    required: false,
  },
];

function apiServerFlagFix(flag: string, value: string): string {
  return `add ${flag}=${value} to kube-apiserver's flags (kubeadm: /etc/kubernetes/manifests/kube-apiserver.yaml) and restart it; it rewrites kube-system/${configMapName} on start`;
}

function subjectFlag(identity: string | undefined): string {
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(identity ?? '');
  if (sa) return `--serviceaccount=${sa[1]}:${sa[2]}`;
  if (identity) return `--user=${identity}`;
  return '--serviceaccount=<namespace>:<serviceaccount>';
}

function authDelegatorFix(identity: string | undefined): string {
  const name = (identity ?? 'extension-apiserver').replace(/[^a-z0-9.-]+/gi, '-').toLowerCase();
  return `kubectl create clusterrolebinding ${name}:system:auth-delegator --clusterrole=system:auth-delegator ${subjectFlag(identity)}`;
}

function describeError(err: unknown): string {
  if (err instanceof KubeApiError) {
    return err.statusCode ? `HTTP ${err.statusCode} ${err.reason ?? ''}: ${err.message}`.trim() : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Same CA: the same DER, or the same subject with the same public key (a re-issued copy of one CA). */
function sameCA(a: X509Certificate, b: X509Certificate): boolean {
  if (a.raw.equals(b.raw)) return true;
  if (a.subject !== b.subject) return false;
  const ka = a.publicKey.export({ type: 'spki', format: 'der' });
  const kb = b.publicKey.export({ type: 'spki', format: 'der' });
  return ka.equals(kb);
}

function cn(c: X509Certificate): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1] ?? c.subject.replace(/\n/g, ', ');
}

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

/** `kubectl` reaching the same cluster as the doctor: with `--kubeconfig <file>` when one was given. */
function kubectl(opts: DoctorOptions): string {
  return opts.kubeconfig ? `kubectl --kubeconfig ${opts.kubeconfig}` : 'kubectl';
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

async function canI(
  client: RestClient,
  attrs: Record<string, string>,
): Promise<{ allowed: boolean; reason?: string; error?: string }> {
  try {
    const r = await client.post<{ status?: { allowed?: boolean; reason?: string; evaluationError?: string } }>(
      '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: attrs },
      },
    );
    return { allowed: r.status?.allowed === true, ...(r.status?.reason && { reason: r.status.reason }) };
  } catch (err) {
    return { allowed: false, error: describeError(err) };
  }
}

async function rbacChecks(client: RestClient, identity: string | undefined, checks: DoctorCheck[]): Promise<void> {
  const cm = { namespace: 'kube-system', group: '', resource: 'configmaps', name: configMapName };
  const verbs = ['get', 'list', 'watch'];
  const cmResults = await Promise.all(verbs.map((verb) => canI(client, { ...cm, verb })));
  const denied = verbs.filter((_, i) => !cmResults[i]!.allowed);
  const error = cmResults.find((r) => r.error)?.error;
  checks.push(
    denied.length === 0
      ? { id: 'rbac.configmap', status: 'pass', message: `may get, list and watch kube-system/${configMapName}` }
      : {
          id: 'rbac.configmap',
          status: 'fail',
          message: error
            ? `cannot ask whether it may read kube-system/${configMapName}: ${error}`
            : `may not ${denied.join(', ')} kube-system/${configMapName}`,
          fix: rolebindingFixCommand(identity),
        },
  );
  const reviews = [
    { id: 'rbac.tokenreviews', group: 'authentication.k8s.io', resource: 'tokenreviews' },
    { id: 'rbac.subjectaccessreviews', group: 'authorization.k8s.io', resource: 'subjectaccessreviews' },
  ];
  for (const r of reviews) {
    const res = await canI(client, { verb: 'create', group: r.group, resource: r.resource });
    checks.push(
      res.allowed
        ? { id: r.id, status: 'pass', message: `may create ${r.resource}.${r.group}` }
        : {
            id: r.id,
            status: 'fail',
            message: res.error
              ? `cannot ask whether it may create ${r.resource}.${r.group}: ${res.error}`
              : `may not create ${r.resource}.${r.group}`,
            fix: authDelegatorFix(identity),
          },
    );
  }
}

async function configMapChecks(
  client: RestClient,
  identity: string | undefined,
  opts: DoctorOptions,
  now: number,
  checks: DoctorCheck[],
): Promise<void> {
  const ns = opts.configMap?.namespace ?? 'kube-system';
  const cmName = opts.configMap?.name ?? configMapName;
  const where = `${ns}/${cmName}`;
  let data: Readonly<Record<string, string>>;
  try {
    const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps/${encodeURIComponent(cmName)}`;
    data = (await client.get<ConfigMap>(path)).data ?? {};
    checks.push({ id: 'configmap', status: 'pass', message: `${where} exists` });
  } catch (err) {
    const status = err instanceof KubeApiError ? err.statusCode : undefined;
    checks.push({
      id: 'configmap',
      status: 'fail',
      message: status === 404 ? `${where} does not exist` : `cannot read ${where}: ${describeError(err)}`,
      fix:
        status === 403
          ? rolebindingFixCommand(identity)
          : status === 404
            ? apiServerFlagFix('--requestheader-client-ca-file', '/etc/kubernetes/pki/front-proxy-ca.crt')
            : `kubectl get configmap -n ${ns} ${cmName} -o yaml`,
    });
    return;
  }

  for (const k of keyFlags) {
    const value = data[k.key];
    const id = `configmap.key.${k.key}`;
    if (value === undefined || value === '') {
      checks.push({
        id,
        status: k.required ? 'fail' : 'warn',
        message: `key ${k.key} is missing`,
        fix: apiServerFlagFix(k.flag, k.example),
      });
      continue;
    }
    if (k.key === configMapKeys.clientCA || k.key === configMapKeys.requestHeaderCA) {
      checks.push({ id, status: 'pass', message: `key ${k.key} is present` });
      continue;
    }
    try {
      const list = deserializeStrings(value, k.key);
      if (list.length === 0 && k.key === configMapKeys.allowedNames) {
        checks.push({
          id,
          status: 'warn',
          message: 'requestheader-allowed-names is empty: any certificate from the front-proxy CA may assert users',
          fix: apiServerFlagFix(k.flag, k.example),
        });
      } else if (list.length === 0 && k.required) {
        checks.push({
          id,
          status: 'fail',
          message: `key ${k.key} is an empty list`,
          fix: apiServerFlagFix(k.flag, k.example),
        });
      } else checks.push({ id, status: 'pass', message: `${k.key}: ${list.join(', ')}` });
    } catch (err) {
      checks.push({ id, status: 'fail', message: describeError(err), fix: apiServerFlagFix(k.flag, k.example) });
    }
  }

  const bundles: { key: string; certs: readonly X509Certificate[] }[] = [];
  for (const key of [configMapKeys.clientCA, configMapKeys.requestHeaderCA]) {
    const pem = data[key];
    if (!pem) continue;
    try {
      const certs = parsePemBundle(pem, key).certificates;
      bundles.push({ key, certs });
    } catch (err) {
      checks.push({
        id: `ca.parse.${key}`,
        status: 'fail',
        message: `key ${key} holds no valid PEM certificate: ${describeError(err)}`,
        fix: `openssl x509 -noout -subject -in <the file passed to kube-apiserver for ${key}>`,
      });
    }
  }

  const client_ = bundles.find((b) => b.key === configMapKeys.clientCA);
  const proxy = bundles.find((b) => b.key === configMapKeys.requestHeaderCA);
  if (client_ && proxy) {
    const shared = proxy.certs.filter((p) => client_.certs.some((c) => sameCA(c, p)));
    checks.push(
      shared.length === 0
        ? { id: 'ca.distinct', status: 'pass', message: 'requestheader CA and client CA are different CAs' }
        : {
            id: 'ca.distinct',
            status: 'fail',
            message: `requestheader CA and client CA share ${shared.map((c) => `"${cn(c)}"`).join(', ')}: every client certificate of the cluster CA could assert any user through X-Remote-User`,
            fix: 'kubeadm init phase certs front-proxy-ca && kubeadm init phase certs front-proxy-client   # then kube-apiserver --requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt --proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt --proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key',
          },
    );
  }

  const warnMs = (opts.expiryWarningDays ?? 30) * day;
  for (const b of bundles) {
    const renew =
      b.key === configMapKeys.requestHeaderCA
        ? 'kubeadm init phase certs front-proxy-ca   # after moving the old front-proxy-ca.* away; then restart kube-apiserver'
        : 'kubeadm init phase certs ca   # after moving the old ca.* away; re-issue the certificates it signed (kubeadm certs renew all)';
    for (const c of b.certs) {
      const notAfter = Date.parse(c.validTo);
      const notBefore = Date.parse(c.validFrom);
      const id = `ca.expiry.${b.key}`;
      const name = `"${cn(c)}" in ${b.key}`;
      const days = Math.floor((notAfter - now) / day);
      if (notAfter <= now) {
        checks.push({ id, status: 'fail', message: `${name} expired on ${c.validTo}`, fix: renew });
      } else if (notBefore > now) {
        checks.push({
          id,
          status: 'fail',
          message: `${name} is not valid before ${c.validFrom}`,
          fix: 'check the clock of this host and of kube-apiserver (timedatectl)',
        });
      } else if (notAfter - now < warnMs) {
        checks.push({ id, status: 'warn', message: `${name} expires in ${days} days (${c.validTo})`, fix: renew });
      } else checks.push({ id, status: 'pass', message: `${name} valid for ${days} more days` });
    }
  }
}

async function apiServiceChecks(client: RestClient, opts: DoctorOptions, checks: DoctorCheck[]): Promise<void> {
  if (!opts.group || !opts.version) {
    checks.push({
      id: 'apiservice',
      status: 'fail',
      message: '--group and --version go together',
      fix: 'kube-delegated-auth doctor --group <group> --version <version>',
    });
    return;
  }
  const name = `${opts.version}.${opts.group}`;
  let svc: ApiService;
  try {
    svc = await client.get<ApiService>(`/apis/apiregistration.k8s.io/v1/apiservices/${encodeURIComponent(name)}`);
  } catch (err) {
    const status = err instanceof KubeApiError ? err.statusCode : undefined;
    checks.push({
      id: 'apiservice',
      status: 'fail',
      message:
        status === 404 ? `APIService ${name} does not exist` : `cannot read APIService ${name}: ${describeError(err)}`,
      fix:
        status === 404
          ? `kubectl apply -f apiservice.yaml   # apiVersion: apiregistration.k8s.io/v1, kind: APIService, metadata.name: ${name}, spec: {group: ${opts.group}, version: ${opts.version}, service: {namespace, name, port}, caBundle, groupPriorityMinimum: 1000, versionPriority: 15}`
          : `kubectl get apiservice ${name} -o yaml`,
    });
    return;
  }
  checks.push({ id: 'apiservice', status: 'pass', message: `APIService ${name} exists` });

  const available = svc.status?.conditions?.find((c) => c.type === 'Available');
  const said = available
    ? `${available.reason ?? ''}${available.message ? `: ${available.message}` : ''}`
    : 'no Available condition yet';
  if (available?.status === 'True') {
    checks.push({ id: 'apiservice.available', status: 'pass', message: `Available (${said})` });
  } else {
    const s = svc.spec?.service;
    const where = s ? `-n ${s.namespace} ${s.name}` : '';
    const fixByReason: Record<string, string> = {
      ServiceNotFound: `kubectl get service ${where}   # create the Service the APIService points at`,
      ServiceAccessError: `kubectl get service ${where} -o yaml`,
      MissingEndpoints: `kubectl get endpointslices -n ${s?.namespace ?? '<namespace>'} -l kubernetes.io/service-name=${s?.name ?? '<service>'}   # no ready pod behind the Service`,
      EndpointsNotFound: `kubectl get endpointslices -n ${s?.namespace ?? '<namespace>'} -l kubernetes.io/service-name=${s?.name ?? '<service>'}`,
      FailedDiscoveryCheck: `kubectl logs -n ${s?.namespace ?? '<namespace>'} -l <your-server-selector>   # the aggregator could not reach or authenticate to the server; also kubectl get --raw /apis/${opts.group}/${opts.version}`,
    };
    checks.push({
      id: 'apiservice.available',
      status: 'fail',
      message: `not Available: ${said}`,
      fix: fixByReason[available?.reason ?? ''] ?? `kubectl describe apiservice ${name}`,
    });
  }

  if (!svc.spec?.service) {
    checks.push({
      id: 'apiservice.tls',
      status: 'pass',
      message: 'served by kube-apiserver itself (Local): no caBundle needed',
    });
  } else if (svc.spec.insecureSkipTLSVerify) {
    checks.push({
      id: 'apiservice.tls',
      status: 'warn',
      message: 'insecureSkipTLSVerify is true: the aggregator sends the front-proxy identity to any server certificate',
      fix: `kubectl patch apiservice ${name} --type=merge -p "{\\"spec\\":{\\"insecureSkipTLSVerify\\":false,\\"caBundle\\":\\"$(base64 -w0 serving-ca.crt)\\"}}"`,
    });
  } else if (!svc.spec.caBundle) {
    checks.push({
      id: 'apiservice.tls',
      status: 'fail',
      message: 'caBundle is empty: the aggregator cannot verify the server certificate',
      fix: `kubectl patch apiservice ${name} --type=merge -p "{\\"spec\\":{\\"caBundle\\":\\"$(base64 -w0 serving-ca.crt)\\"}}"`,
    });
  } else {
    checks.push({ id: 'apiservice.tls', status: 'pass', message: 'caBundle set; server certificate verified' });
  }
}
