import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { KubeApiError, type RestClient } from 'kube-delegated-auth/cluster';
import type { BackendEndpoint } from './http.js';

/** What the APIService, its Service and kube-system/extension-apiserver-authentication say. */
export interface ProbeTarget {
  readonly apiServiceName: string;
  readonly group: string;
  readonly version: string;
  /** `spec.caBundle` decoded; undefined with `insecureSkipTLSVerify`. */
  readonly caBundlePem?: string;
  readonly insecureSkipTlsVerify: boolean;
  readonly service: { readonly namespace: string; readonly name: string; readonly port: number };
  /** The Service's type and the address kube-apiserver dials (ClusterIP or ExternalName). */
  readonly serviceType: string;
  readonly serviceAddress?: string;
  /** `client-ca-file` of extension-apiserver-authentication (PEM), when the ConfigMap has it. */
  readonly clientCaPem?: string;
  /** `requestheader-client-ca-file` (PEM), the front-proxy CA. */
  readonly frontProxyCaPem?: string;
  readonly allowedNames: readonly string[];
  /** Where the backend is reached directly; undefined with `backendSkipReason`. */
  readonly backend?: BackendEndpoint;
  readonly backendSkipReason?: string;
  /** A listable resource of the group-version, for the resource probes. */
  readonly resource?: { readonly name: string; readonly namespaced: boolean; readonly listPath: string };
  /** `selfsubjectreviews`-style resource the backend serves (POST returns `status.userInfo`), if any. */
  readonly whoamiPath?: string;
}

interface ApiService {
  spec?: {
    group?: string;
    version?: string;
    caBundle?: string;
    insecureSkipTLSVerify?: boolean;
    service?: { namespace?: string; name?: string; port?: number };
  };
}

interface Service {
  spec?: { type?: string; clusterIP?: string; externalName?: string; ports?: { port: number }[] };
}

interface ApiResourceList {
  resources?: { name: string; namespaced?: boolean; verbs?: string[] }[];
}

/**
 * A problem the tool cannot go on from: printed as every CLI failure is, one line
 * `error: <subject>: <cause>; fix: <fix>` (see {@link TargetError.line}), exit 1.
 */
export class TargetError extends Error {
  /** The flag (and value) or object at fault: `--backend https://127.0.0.1:1`. */
  readonly subject: string;
  /** What is wrong with it. */
  readonly problem: string;
  /** What to do. */
  readonly fix: string;
  constructor(subject: string, problem: string, fix: string) {
    super(`${subject}: ${problem}`);
    this.name = 'TargetError';
    this.subject = subject;
    this.problem = problem;
    this.fix = fix;
  }

  /** The line the CLI prints. */
  line(): string {
    return `error: ${this.subject}: ${this.problem}; fix: ${this.fix}`;
  }
}

/**
 * Resolves after one TLS handshake attempt: undefined when a TLS server answered, else the reason. A handshake rather
 * than a TCP connect, because transparent proxies and firewalls accept TCP for addresses nothing serves.
 */
export function tlsReachable(host: string, port: number, timeoutMs = 5000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host, port, rejectUnauthorized: false, ...(isIP(host) === 0 && { servername: host }) });
    const done = (r: string | undefined) => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(`no TLS handshake with ${host}:${port} within ${timeoutMs} ms`), timeoutMs);
    s.once('secureConnect', () => done(undefined));
    s.once('error', (e: Error & { code?: string }) => done(`${host}:${port}: ${e.code ?? e.message}`));
  });
}

/** Reads the APIService, its Service, the trust ConfigMap and discovery, and decides how the backend is reached. */
export async function resolveTarget(
  rest: RestClient,
  apiServiceName: string,
  backendUrl: string | undefined,
): Promise<ProbeTarget> {
  let apiService: ApiService;
  try {
    apiService = await rest.get<ApiService>(`/apis/apiregistration.k8s.io/v1/apiservices/${apiServiceName}`);
  } catch (err) {
    if (err instanceof KubeApiError && err.statusCode === 404) {
      throw new TargetError(
        `--apiservice ${apiServiceName}`,
        'APIService not found',
        'kubectl get apiservices lists them (the name is <version>.<group>)',
      );
    }
    throw new TargetError(
      `--apiservice ${apiServiceName}`,
      `cannot read the APIService: ${(err as Error).message}`,
      `check that kube-apiserver answers and the --kubeconfig user may read it: kubectl get apiservice ${apiServiceName}`,
    );
  }
  const spec = apiService.spec ?? {};
  if (!spec.service?.name || !spec.service.namespace) {
    throw new TargetError(
      `--apiservice ${apiServiceName}`,
      'has no spec.service: it is served by kube-apiserver itself',
      'name an APIService backed by a Service (kubectl get apiservices: SERVICE is not Local)',
    );
  }
  const service = { namespace: spec.service.namespace, name: spec.service.name, port: spec.service.port ?? 443 };
  const caBundlePem = spec.caBundle ? Buffer.from(spec.caBundle, 'base64').toString('utf8') : undefined;

  let svc: Service | undefined;
  let svcProblem: string | undefined;
  try {
    svc = await rest.get<Service>(`/api/v1/namespaces/${service.namespace}/services/${service.name}`);
  } catch (err) {
    svcProblem = `cannot read Service ${service.namespace}/${service.name}: ${(err as Error).message}`;
  }
  const serviceType = svc?.spec?.type ?? 'unknown';
  const serviceAddress =
    serviceType === 'ExternalName'
      ? svc?.spec?.externalName
      : svc?.spec?.clusterIP && svc.spec.clusterIP !== 'None'
        ? svc.spec.clusterIP
        : undefined;

  let clientCaPem: string | undefined;
  let frontProxyCaPem: string | undefined;
  let allowedNames: string[] = [];
  try {
    const cm = await rest.get<{ data?: Record<string, string> }>(
      '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication',
    );
    clientCaPem = cm.data?.['client-ca-file'] || undefined;
    frontProxyCaPem = cm.data?.['requestheader-client-ca-file'] || undefined;
    allowedNames = JSON.parse(cm.data?.['requestheader-allowed-names'] ?? '[]') as string[];
  } catch {
    // The trust cases report what is missing.
  }

  const servername = `${service.name}.${service.namespace}.svc`;
  let backend: BackendEndpoint | undefined;
  let backendSkipReason: string | undefined;
  if (backendUrl !== undefined) {
    let u: URL;
    try {
      u = new URL(backendUrl);
    } catch {
      throw new TargetError(
        `--backend ${JSON.stringify(backendUrl)}`,
        'not a URL',
        '--backend=https://host:port (or leave it out to dial the Service)',
      );
    }
    if (u.protocol !== 'https:')
      throw new TargetError(
        `--backend ${backendUrl}`,
        `must be an https:// URL, not ${u.protocol}`,
        '--backend=https://host:port (or leave it out to dial the Service)',
      );
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port || 443);
    const why = await tlsReachable(host, port);
    if (why)
      throw new TargetError(
        `--backend ${backendUrl}`,
        `not reachable: ${why}`,
        'an address where the backend answers TLS from here (e.g. kubectl port-forward), or leave --backend out to dial the Service',
      );
    backend = { host, port, servername, ...(caBundlePem && { caPem: caBundlePem }) };
  } else if (!serviceAddress) {
    backendSkipReason = svcProblem ?? `Service ${service.namespace}/${service.name} has no address to dial`;
  } else {
    // ExternalName and ClusterIP are dialled at the APIService's port (kube-apiserver resolves ClusterIP Services to
    // endpoints; from outside the cluster network the ClusterIP usually does not answer).
    const why = await tlsReachable(serviceAddress, service.port);
    if (why) {
      backendSkipReason = `backend not reachable from here via the Service (${serviceType} ${serviceAddress}:${service.port}: ${why}); pass --backend https://host:port (e.g. after kubectl port-forward)`;
    } else {
      backend = { host: serviceAddress, port: service.port, servername, ...(caBundlePem && { caPem: caBundlePem }) };
    }
  }

  let resource: ProbeTarget['resource'];
  let whoamiPath: string | undefined;
  const gv = `/apis/${spec.group}/${spec.version}`;
  try {
    const list = await rest.get<ApiResourceList>(gv);
    const listable = (list.resources ?? []).find((r) => !r.name.includes('/') && (r.verbs ?? []).includes('list'));
    if (listable) {
      resource = {
        name: listable.name,
        namespaced: listable.namespaced === true,
        listPath: listable.namespaced ? `${gv}/namespaces/default/${listable.name}` : `${gv}/${listable.name}`,
      };
    }
    const who = (list.resources ?? []).find(
      (r) => r.name === 'selfsubjectreviews' && (r.verbs ?? []).includes('create'),
    );
    if (who) whoamiPath = `${gv}/selfsubjectreviews`;
  } catch {
    // The discovery case reports it.
  }
  return {
    apiServiceName,
    group: spec.group ?? '',
    version: spec.version ?? '',
    ...(caBundlePem && { caBundlePem }),
    insecureSkipTlsVerify: spec.insecureSkipTLSVerify === true,
    service,
    serviceType,
    ...(serviceAddress && { serviceAddress }),
    ...(clientCaPem && { clientCaPem }),
    ...(frontProxyCaPem && { frontProxyCaPem }),
    allowedNames,
    ...(backend && { backend }),
    ...(backendSkipReason && { backendSkipReason }),
    ...(resource && { resource }),
    ...(whoamiPath && { whoamiPath }),
  };
}
