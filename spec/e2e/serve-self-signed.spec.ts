// `kube-delegated-auth serve --kubeconfig …` with NO certificate flags, behind the real aggregator: the self-signed
// serving certificate must parse in Go (it did not: a PrintableString holding `@` in the CA name made the APIService
// FailedDiscoveryCheck), the APIService must become Available=True, and requests must pass through it.
//
// Run alone: npx mocha --no-config --node-option import=tsx --timeout 120000 \
//   --require spec/e2e/support/cluster.ts spec/e2e/serve-self-signed.spec.ts
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { expect } from 'chai';
import {
  prepareExtensionServer,
  registerApiService,
  waitForAPIServiceAvailable,
  type RegisteredApiService,
} from '../../harness/register-apiservice.js';
import { getCluster } from './support/cluster.js';
import { startServe, type ServeProcess } from './support/serve.js';

const group = 'sample.kube-delegated-auth.io';
const version = 'v1alpha1';

/** The certificates a TLS server presents, leaf first (read over a real connection, nothing trusted yet). */
function presentedChain(port: number): Promise<X509Certificate[]> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      const chain: X509Certificate[] = [];
      const seen = new Set<string>();
      for (let c = socket.getPeerCertificate(true); c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
        seen.add(c.fingerprint256);
        chain.push(new X509Certificate(c.raw));
      }
      socket.end();
      resolvePromise(chain);
    });
    socket.once('error', reject);
  });
}

interface ApiServiceObject {
  readonly status?: { readonly conditions?: readonly { type: string; status: string; reason?: string }[] };
}

describe('e2e: serve in cluster mode with its self-signed serving certificate, behind the aggregator', function () {
  this.timeout(180_000);
  let serve: ServeProcess | undefined;
  let registered: RegisteredApiService | undefined;

  after(async () => {
    await registered?.unregister().catch(() => undefined);
    await serve?.stop();
  });

  it('APIService Available=True and requests pass through the aggregator', async () => {
    const cp = getCluster();
    // The server's identity (client certificate from the cluster CA) with its RBAC; its serving PKI is NOT used.
    const setup = await prepareExtensionServer(cp, {
      group,
      version,
      namespace: 'kube-delegated-auth',
      serviceName: 'kube-delegated-auth-sample',
    });
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.KUBECONFIG;
    delete env.KUBERNETES_SERVICE_HOST;
    serve = await startServe(['--kubeconfig', setup.kubeconfigPath], { env, timeoutMs: 90_000 });
    const { port } = serve;
    expect(serve.output()).to.include('(cluster mode)');

    // The self-signed CA is the last certificate served: what an operator puts into the APIService's caBundle.
    const chain = await presentedChain(port);
    expect(chain.length, 'leaf and its self-signed CA').to.equal(2);
    const ca = chain[1]!;
    expect(ca.subject).to.match(/^CN=kube-delegated-auth-ca@\d+$/);
    expect(ca.ca).to.equal(true);
    expect(chain[0]!.checkIssued(ca)).to.equal(true);
    expect(chain[0]!.checkHost('kube-delegated-auth-sample.kube-delegated-auth.svc')).to.equal(
      'kube-delegated-auth-sample.kube-delegated-auth.svc',
    );

    registered = await registerApiService(cp.admin, {
      group,
      version,
      port,
      namespace: 'kube-delegated-auth',
      serviceName: 'kube-delegated-auth-sample',
      caBundlePem: ca.toString(),
      identity: { kind: 'User', name: setup.userName },
    });
    // Go's aggregator parses and verifies the certificate for <service>.<namespace>.svc on its discovery check.
    await waitForAPIServiceAvailable(cp.admin, registered.apiServiceName, 120_000);
    const apiService = await cp.admin.get<ApiServiceObject>(
      `/apis/apiregistration.k8s.io/v1/apiservices/${registered.apiServiceName}`,
    );
    const available = apiService.status?.conditions?.find((c) => c.type === 'Available');
    expect(available, JSON.stringify(apiService.status)).to.deep.include({ status: 'True' });

    // Through the aggregator: the admin (system:masters) is allowed by a real SubjectAccessReview…
    const list = await cp.admin.request<{ kind?: string }>(
      'GET',
      `/apis/${group}/${version}/namespaces/default/widgets`,
    );
    expect(list.status, list.text).to.equal(200);
    expect(list.body?.kind).to.equal('WidgetList');
    // …and a user without RBAC is refused by this server's delegated authorization, with a Status naming the user.
    const denied = await cp.admin.request<{ kind?: string; message?: string }>(
      'GET',
      `/apis/${group}/${version}/namespaces/default/widgets`,
      { impersonate: { user: 'kda-e2e-nobody' } },
    );
    expect(denied.status, denied.text).to.equal(403);
    expect(denied.body?.kind).to.equal('Status');
    expect(denied.body?.message).to.include('kda-e2e-nobody');
  });
});
