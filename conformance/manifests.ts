import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

/** The kustomize base of the repository's deploy/ (the overlays add the serving certificate and caBundle). */
export const deployDir = fileURLToPath(new URL('../deploy/base/', import.meta.url));

/** Name of the Secret the Deployment mounts its serving certificate from (see deploy/base/20-deployment.yaml). */
export const servingSecretName = 'kube-delegated-auth-sample-serving';

export type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
};

/** Every object of deploy/base/*.yaml, in file order (the prefixes order them for apply); not kustomization.yaml. */
export function loadDeployManifests(dir = deployDir): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && !/^kustomization\.ya?ml$/.test(f))
    .sort()) {
    for (const doc of YAML.parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as Manifest | null;
      if (obj) out.push(obj);
    }
  }
  return out;
}

export interface RenderOptions {
  /** Container image of the Deployment; default: as in deploy/. */
  readonly image?: string;
  /** The CA of the serving certificate (PEM), written into the APIService `caBundle`. */
  readonly servingCaPem: string;
  /** Serving certificate and key (PEM): a `kubernetes.io/tls` Secret is added before the Deployment. */
  readonly serving?: { readonly certPem: string; readonly keyPem: string };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * deploy/ as the README tells users to fill it in: the image set, the APIService `caBundle` filled (the shipped
 * placeholder is not valid base64, so an unrendered APIService fails validation on purpose), and the serving Secret.
 */
export function renderDeployManifests(opts: RenderOptions, manifests = loadDeployManifests()): Manifest[] {
  const out: Manifest[] = [];
  for (const m of manifests) {
    const obj = structuredClone(m);
    if (obj.kind === 'Deployment' && opts.serving) {
      const ns = obj.metadata.namespace;
      out.push({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: servingSecretName, ...(ns ? { namespace: ns } : {}) },
        type: 'kubernetes.io/tls',
        data: { 'tls.crt': b64(opts.serving.certPem), 'tls.key': b64(opts.serving.keyPem) },
      });
    }
    if (obj.kind === 'Deployment' && opts.image) {
      const spec = obj.spec as { template: { spec: { containers: { image: string }[] } } };
      for (const c of spec.template.spec.containers) c.image = opts.image;
    }
    if (obj.kind === 'APIService') {
      const spec = obj.spec as Record<string, unknown>;
      spec.caBundle = b64(opts.servingCaPem);
      delete spec.insecureSkipTLSVerify;
    }
    out.push(obj);
  }
  return out;
}

/** The Deployment's container port and the Service port, read from the manifests. */
export function manifestPorts(manifests: readonly Manifest[]): { servicePort: number; containerPort: number } {
  const svc = manifests.find((m) => m.kind === 'Service');
  const dep = manifests.find((m) => m.kind === 'Deployment');
  const sp = (svc?.spec as { ports?: { port: number; targetPort?: number | string }[] } | undefined)?.ports?.[0];
  const cp = (
    dep?.spec as { template: { spec: { containers: { ports?: { containerPort: number }[] }[] } } } | undefined
  )?.template.spec.containers[0]?.ports?.[0]?.containerPort;
  if (!sp || !cp) throw new Error('deploy/: expected a Service with a port and a Deployment with a containerPort');
  return { servicePort: sp.port, containerPort: cp };
}

/** The names the suite uses, taken from deploy/ so that both modes agree with what users apply. */
export function namesFromManifests(manifests: readonly Manifest[]): {
  namespace: string;
  serviceName: string;
  serviceAccount: string;
  group: string;
  version: string;
  apiServiceName: string;
  readerRoleBinding: string;
  delegatorBinding: string;
  editorClusterRole: string;
} {
  const find = (kind: string, pred: (m: Manifest) => boolean = () => true) => {
    const m = manifests.find((x) => x.kind === kind && pred(x));
    if (!m) throw new Error(`deploy/: no ${kind}`);
    return m;
  };
  const refName = (m: Manifest) => (m.roleRef as { name: string }).name;
  const apiService = find('APIService');
  const spec = apiService.spec as { group: string; version: string };
  const sa = find('ServiceAccount');
  return {
    namespace: sa.metadata.namespace!,
    serviceName: find('Service').metadata.name,
    serviceAccount: sa.metadata.name,
    group: spec.group,
    version: spec.version,
    apiServiceName: apiService.metadata.name,
    readerRoleBinding: find('RoleBinding', (m) => refName(m) === 'extension-apiserver-authentication-reader').metadata
      .name,
    delegatorBinding: find('ClusterRoleBinding', (m) => refName(m) === 'system:auth-delegator').metadata.name,
    editorClusterRole: find('ClusterRole').metadata.name,
  };
}
