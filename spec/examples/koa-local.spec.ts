// The README's first example (examples/koa-local.ts), run as a user runs it: tsx, dev certificates from
// `writeDevPki`, an ephemeral port; one mTLS request per user over real TLS.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Agent, request } from 'undici';
import { writeDevPki } from '../../lib/dev-pki/index.js';
import { startListening, type ListeningProcess } from '../support/programs.js';

describe('examples/koa-local.ts (the README local example, spawned with tsx)', function () {
  this.timeout(60_000);
  let dir: string;
  let child: ListeningProcess | undefined;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kda-koa-local-'));
    writeDevPki(dir);
    child = await startListening(process.execPath, ['--import', 'tsx', 'examples/koa-local.ts'], {
      env: { ...process.env, CERT_DIR: dir, PORT: '0' },
    });
    url = child.url;
  });
  after(async () => {
    await child?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function getAs(user: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const agent = new Agent({
      connect: {
        ca: readFileSync(join(dir, 'serving-ca.crt')),
        cert: readFileSync(join(dir, `${user}.crt`)),
        key: readFileSync(join(dir, `${user}.key`)),
        servername: 'localhost',
      },
    });
    try {
      const res = await request(url + path, { dispatcher: agent });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    } finally {
      await agent.close();
    }
  }

  it('answers the client-certificate user its policy allows, refuses one it does not, exits 0 on SIGTERM', async () => {
    const widgets = '/apis/sample.example.com/v1/namespaces/default/widgets';
    expect(await getAs('alice', widgets)).to.deep.equal({
      status: 200,
      body: { user: 'alice', groups: ['developers', 'system:authenticated'] },
    });
    const bob = await getAs('bob', widgets);
    expect(bob.status).to.equal(403);
    expect(bob.body.kind).to.equal('Status');
    expect(await child!.stop('SIGTERM')).to.equal(0);
  });
});
