// examples/apiserver-blocks.ts run as a user runs it (tsx, dev certificates, an ephemeral port): the Go-named flags
// parsed with util.parseArgs become a real local-mode stack, and the blocks answer over real TLS: readiness with the
// trust-source and informer checks, discovery (aggregated v2 as kube-aggregator asks it) and OpenAPI behind
// authentication and authorization, and one-line flag errors naming the flag.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Agent, request } from 'undici';
import { writeDevPki } from '../../lib/dev-pki/index.js';
import { runToExit, startListening, type ListeningProcess, type ProgramRun } from '../support/programs.js';

const example = 'examples/apiserver-blocks.ts';
/** The example picks cluster mode when KUBECONFIG is set: these runs are local mode. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'KUBECONFIG'));

/** Runs the example to its exit (for --help and flag errors). */
function runExample(args: string[]): Promise<ProgramRun> {
  return runToExit(process.execPath, ['--import', 'tsx', example, ...args], { env });
}

describe('examples/apiserver-blocks.ts (flags, health, discovery, OpenAPI on node:https)', function () {
  this.timeout(60_000);
  let dir: string;
  let child: ListeningProcess | undefined;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kda-blocks-'));
    writeDevPki(dir);
    const args = [
      '--secure-port=0',
      `--tls-cert-file=${join(dir, 'serving.crt')}`,
      `--tls-private-key-file=${join(dir, 'serving.key')}`,
      `--client-ca-file=${join(dir, 'client-ca.crt')}`,
      `--requestheader-client-ca-file=${join(dir, 'front-proxy-ca.crt')}`,
      '--requestheader-allowed-names=front-proxy-client',
      // Not the default: proves the flag reaches the authenticator.
      '--requestheader-username-headers=X-Custom-User',
      '--requestheader-group-headers=X-Custom-Group',
    ];
    child = await startListening(process.execPath, ['--import', 'tsx', example, ...args], { env });
    url = child.url;
  });
  after(async () => {
    await child?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function get(
    path: string,
    as: string | undefined,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    const agent = new Agent({
      connect: {
        ca: readFileSync(join(dir, 'serving-ca.crt')),
        ...(as && { cert: readFileSync(join(dir, `${as}.crt`)), key: readFileSync(join(dir, `${as}.key`)) }),
        servername: 'localhost',
      },
    });
    try {
      const res = await request(url + path, { dispatcher: agent, headers });
      return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
    } finally {
      await agent.close();
    }
  }

  it('/readyz?verbose answers anyone, with the trust sources and the informer check', async () => {
    const res = await get('/readyz?verbose', undefined);
    expect(res.status).to.equal(200);
    expect(res.body).to.equal(
      '[+]ping ok\n[+]trust:client-ca-bundle ok\n[+]trust:request-header ok\n[+]widget-store ok\nreadyz check passed\n',
    );
    expect((await get('/livez', undefined)).body).to.equal('ok');
  });

  it('discovery and OpenAPI need an authorized user: anonymous 403, a client-certificate user gets them', async () => {
    const anonymous = await get('/apis', undefined);
    expect(anonymous.status).to.equal(403);
    expect(JSON.parse(anonymous.body)).to.include({ kind: 'Status', reason: 'Forbidden' });
    const alice = await get('/apis/sample.example.com/v1alpha1', 'alice');
    expect(alice.status).to.equal(200);
    expect(JSON.parse(alice.body).kind).to.equal('APIResourceList');
    const openapi = await get('/openapi/v3', 'alice');
    expect(JSON.parse(openapi.body).paths).to.have.property('apis/sample.example.com/v1alpha1');
  });

  it('the front proxy with the headers the flags named (X-Custom-User): aggregated discovery v2, as the aggregator asks', async () => {
    const accept =
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';
    const res = await get('/apis', 'front-proxy-client', {
      accept,
      'x-custom-user': 'system:kube-aggregator',
      'x-custom-group': 'system:masters',
    });
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal(
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
    );
    expect(JSON.parse(res.body).items[0].metadata.name).to.equal('sample.example.com');
    // The default X-Remote-User is not a header these flags named: no identity, so 401 (front-proxy cert, no user).
    const defaultHeader = await get('/apis', 'front-proxy-client', {
      'x-remote-user': 'admin',
      'x-remote-group': 'system:masters',
    });
    expect(defaultHeader.status).to.equal(401);
  });

  it('--help lists the Go flags; a bad value or an unknown flag is one line naming the flag, exit 2', async () => {
    const help = await runExample(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.include('--requestheader-client-ca-file string');
    expect(help.stdout).to.include('--authorization-always-allow-paths strings');
    const bad = await runExample(['--authorization-webhook-cache-authorized-ttl', '10x']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(
      /^Error: invalid argument "10x" for "--authorization-webhook-cache-authorized-ttl" flag: time: unknown unit "x" in duration "10x"\n/,
    );
    expect(bad.stderr).not.to.match(/\s+at /); // no stack
    const unknown = await runExample(['--bogus']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.match(/^Error: Unknown option '--bogus'/);
    const noCA = await runExample([]);
    expect(noCA.code).to.equal(2);
    expect(noCA.stderr).to.include('--client-ca-file');
  });
});
