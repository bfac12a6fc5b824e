// The README's minimal Koa extension apiserver (examples/koa-extension-apiserver.ts), run as a user would run it,
// against the real kube-apiserver: it must start, authenticate the front proxy and answer.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { prepareExtensionServer } from '../../harness/register-apiservice.js';
import { startListening, type ListeningProcess } from '../support/programs.js';
import { getCluster } from './support/cluster.js';

describe('e2e: the README example runs', function () {
  this.timeout(120_000);
  let child: ListeningProcess | undefined;
  const agents: Agent[] = [];

  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await child?.stop('SIGKILL');
  });

  it("examples/koa-extension-apiserver.ts serves the front proxy's user and exits on SIGTERM", async () => {
    const cp = getCluster();
    const setup = await prepareExtensionServer(cp, {
      group: 'example.e2e.kube-delegated-auth.io',
      version: 'v1',
      serviceName: 'readme-example',
    });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KUBECONFIG: setup.kubeconfigPath,
      TLS_CERT_FILE: setup.servingCertPath,
      TLS_PRIVATE_KEY_FILE: setup.servingKeyPath,
      PORT: '0',
    };
    child = await startListening(process.execPath, ['--import', 'tsx', 'examples/koa-extension-apiserver.ts'], {
      env,
      timeoutMs: 60_000,
    });
    const port = child.port;
    const agent = new Agent({
      connect: {
        ca: readFileSync(setup.servingCaPath, 'utf8'),
        cert: cp.pki.frontProxyClient.certPem,
        key: cp.pki.frontProxyClient.keyPem,
        servername: 'localhost',
      },
    });
    agents.push(agent);
    const res = await request(`https://localhost:${port}/apis/example.e2e.kube-delegated-auth.io/v1/things`, {
      dispatcher: agent,
      headers: { 'x-remote-user': 'readme-admin', 'x-remote-group': 'system:masters' },
    });
    expect(res.statusCode).to.equal(200);
    expect(await res.body.json()).to.deep.equal({ hello: 'readme-admin' });
    const denied = await request(`https://localhost:${port}/apis/example.e2e.kube-delegated-auth.io/v1/things`, {
      dispatcher: agent,
      headers: { 'x-remote-user': 'readme-nobody' },
    });
    expect(denied.statusCode).to.equal(403);
    await denied.body.dump();
    expect(await child.stop('SIGTERM')).to.equal(0);
  });
});
