// What each entry point costs: the packages it loads, measured in a fresh process (spec/architecture/
// loaded-packages.mjs watches both module systems). The root entry must stay free of the heavy dependencies; the
// subpaths load theirs, and only them (the positive cases prove the probe sees a package when it does load).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = fileURLToPath(new URL('../../', import.meta.url));
const probe = fileURLToPath(new URL('./loaded-packages.mjs', import.meta.url));

function loadedBy(entry: string, then?: string): string[] {
  const out = execFileSync(process.execPath, ['--import', 'tsx', probe, entry, ...(then ? [then] : [])], {
    cwd: root,
    encoding: 'utf8',
  });
  return JSON.parse(out) as string[];
}

const heavy = ['@kubernetes/client-node', 'pino', 'node-forge', 'koa', 'prom-client', 'express', 'fastify'];
const heavyIn = (packages: readonly string[]) => packages.filter((p) => heavy.includes(p));

describe('architecture: entry points load only what they are for', function () {
  this.timeout(60_000);

  it('the root entry loads none of @kubernetes/client-node, pino, node-forge, koa, prom-client, express, fastify', () => {
    expect(heavyIn(loadedBy('lib/index.ts'))).to.deep.equal([]);
  });

  it('/cluster loads @kubernetes/client-node only when a kubeconfig file is read', () => {
    expect(heavyIn(loadedBy('lib/cluster/index.ts'))).to.deep.equal([]);
    const read = loadedBy(
      'lib/cluster/index.ts',
      "try { m.loadConnectionConfig({ kubeconfig: 'no-such-kubeconfig' }) } catch {}",
    );
    expect(heavyIn(read)).to.deep.equal(['@kubernetes/client-node']);
  });

  it('/pino loads pino and /dev-pki loads node-forge (and nothing else heavy)', () => {
    expect(heavyIn(loadedBy('lib/pino/index.ts'))).to.deep.equal(['pino']);
    expect(heavyIn(loadedBy('lib/dev-pki/index.ts'))).to.deep.equal(['node-forge']);
  });

  it('the framework adapters load no framework (koa, express, fastify are optional peers, used for types)', () => {
    for (const adapter of ['koa', 'express', 'fastify', 'node-http']) {
      expect(heavyIn(loadedBy(`lib/${adapter}/index.ts`)), adapter).to.deep.equal([]);
    }
  });

  it('/apiserver (health, discovery, OpenAPI, flags) loads nothing heavy: no framework, no cluster client', () => {
    expect(heavyIn(loadedBy('lib/apiserver/index.ts'))).to.deep.equal([]);
  });
});
