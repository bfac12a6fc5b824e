import { expect } from 'chai';
import {
  loadDeployManifests,
  manifestPorts,
  namesFromManifests,
  renderDeployManifests,
  servingSecretName,
} from '../../conformance/manifests.js';

const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('conformance manifests (deploy/)', () => {
  const manifests = loadDeployManifests();

  it('names come from deploy/ and match the sample group', () => {
    expect(namesFromManifests(manifests)).to.deep.equal({
      namespace: 'kube-delegated-auth',
      serviceName: 'kube-delegated-auth-sample',
      serviceAccount: 'kube-delegated-auth-sample',
      group: 'sample.kube-delegated-auth.io',
      version: 'v1alpha1',
      apiServiceName: 'v1alpha1.sample.kube-delegated-auth.io',
      readerRoleBinding: 'kube-delegated-auth-sample:extension-apiserver-authentication-reader',
      delegatorBinding: 'kube-delegated-auth-sample:system:auth-delegator',
      editorClusterRole: 'kube-delegated-auth-sample:widget-editor',
    });
  });

  it("the Service port differs from the container port (as in upstream's aggregator test)", () => {
    const { servicePort, containerPort } = manifestPorts(manifests);
    expect(servicePort).to.not.equal(containerPort);
  });

  it('the reader RoleBinding lives in kube-system', () => {
    const rb = manifests.find((m) => m.kind === 'RoleBinding');
    expect(rb?.metadata.namespace).to.equal('kube-system');
  });

  it('the base is highly available: 2 replicas spread over nodes and zones, a PodDisruptionBudget, three probes', () => {
    const dep = manifests.find((m) => m.kind === 'Deployment')!;
    const spec = dep.spec as {
      replicas: number;
      template: {
        spec: { topologySpreadConstraints: { topologyKey: string }[]; containers: Record<string, unknown>[] };
      };
    };
    expect(spec.replicas).to.equal(2);
    expect(spec.template.spec.topologySpreadConstraints.map((c) => c.topologyKey)).to.deep.equal([
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
    expect(spec.template.spec.containers[0]).to.include.keys('startupProbe', 'readinessProbe', 'livenessProbe');
    const pdb = manifests.find((m) => m.kind === 'PodDisruptionBudget')!;
    expect(pdb.apiVersion).to.equal('policy/v1');
    expect(pdb.spec).to.deep.equal({
      minAvailable: 1,
      selector: { matchLabels: { app: 'kube-delegated-auth-sample' } },
    });
  });

  it('the API roles aggregate into the built-in view and edit roles', () => {
    const labels = manifests.filter((m) => m.kind === 'ClusterRole').map((m) => [m.metadata.name, m.metadata.labels]);
    expect(labels).to.deep.equal([
      [
        'kube-delegated-auth-sample:widget-editor',
        {
          'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
          'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
        },
      ],
      ['kube-delegated-auth-sample:widget-viewer', { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' }],
    ]);
  });

  it('reads the objects of deploy/base, not its kustomization.yaml', () => {
    expect(manifests.map((m) => m.kind)).to.not.include('Kustomization');
  });

  describe('renderDeployManifests', () => {
    const rendered = renderDeployManifests({
      image: 'example.test/sample:1',
      servingCaPem: caPem,
      serving: { certPem: 'CERT', keyPem: 'KEY' },
    });

    it('fills the caBundle and never sets insecureSkipTLSVerify', () => {
      const spec = rendered.find((m) => m.kind === 'APIService')!.spec as Record<string, unknown>;
      expect(Buffer.from(spec.caBundle as string, 'base64').toString()).to.equal(caPem);
      expect(spec).to.not.have.property('insecureSkipTLSVerify');
    });

    it('sets the image', () => {
      const dep = rendered.find((m) => m.kind === 'Deployment')!;
      const containers = (dep.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec
        .containers;
      expect(containers.map((c) => c.image)).to.deep.equal(['example.test/sample:1']);
    });

    it('adds the kubernetes.io/tls serving Secret before the Deployment, in its namespace', () => {
      const i = rendered.findIndex((m) => m.kind === 'Secret');
      expect(i).to.be.lessThan(rendered.findIndex((m) => m.kind === 'Deployment'));
      expect(rendered[i]).to.deep.include({ type: 'kubernetes.io/tls' });
      expect(rendered[i]!.metadata).to.deep.equal({ name: servingSecretName, namespace: 'kube-delegated-auth' });
      expect(rendered[i]!.data).to.deep.equal({ 'tls.crt': 'Q0VSVA==', 'tls.key': 'S0VZ' });
    });

    it('leaves the loaded manifests untouched', () => {
      const spec = manifests.find((m) => m.kind === 'APIService')!.spec as Record<string, unknown>;
      expect(spec.caBundle).to.equal('REPLACE_WITH_BASE64_SERVING_CA');
    });
  });
});
