// The README's minimal Koa extension apiserver (examples/koa-extension-apiserver.ts), run as a user would run it,
// against the real kube-apiserver: it must start, authenticate the front proxy and answer.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { prepareExtensionServer } from '../../harness/register-apiservice.js';
import { getCluster } from './support/cluster.js';

describe('e2e: the README example runs', function () {
  this.timeout(120_000);
  let child: ChildProcess | undefined;
  const agents: Agent[] = [];

  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
    if (child && child.exitCode === null) child.kill('SIGKILL');
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
    child = spawn(process.execPath, ['--import', 'tsx', 'examples/koa-extension-apiserver.ts'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no "listening on" line:\n${out}`)), 60_000);
      const check = () => {
        const m = /listening on https:\/\/[^:]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      };
      child!.stdout!.on('data', check);
      child!.once('exit', (code) => reject(new Error(`example exited with ${code}:\n${out}`)));
    });
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
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
  });
});
