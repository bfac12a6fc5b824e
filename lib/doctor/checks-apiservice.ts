// Doctor checks: the APIService of --group/--version (Available, service, caBundle).
import type { RestClient } from '../cluster/rest-client.js';
import { KubeApiError } from '../cluster/rest-client.js';
import type { DoctorCheck } from './report.js';
import { describeError } from './fixes.js';
import type { DoctorOptions } from './options.js';
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

export async function apiServiceChecks(client: RestClient, opts: DoctorOptions, checks: DoctorCheck[]): Promise<void> {
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
