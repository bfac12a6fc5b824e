// `kube-delegated-auth conformance` flag handling through the CLI entry (cli/main.ts): usage, every flag problem
// at once with exit 2, a bad kubeconfig as one line with exit 1. The runs against clusters are in
// spec/e2e/conformance-probe.spec.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { main } from '../../cli/main.js';

async function cli(args: readonly string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('kube-delegated-auth conformance (flags)', () => {
  it('is listed in the CLI usage and prints its own help', async () => {
    expect((await cli(['--help'])).out.join('\n')).to.match(/\n {2}conformance {2}Check any APIService backend/);
    const h = await cli(['conformance', '--help']);
    expect(h.code).to.equal(0);
    expect(h.out.join('\n')).to.include('kube-delegated-auth conformance --apiservice <version>.<group>');
    expect(h.out.join('\n')).to.match(/--csr-timeout duration\s+how long to wait .* \(default 20s\)/);
  });

  it('reports every flag problem at once with exit 2', async () => {
    const r = await cli(['conformance', '--output', 'yaml', '--csr-timeout', 'soon', 'extra', '--bogus']);
    expect(r.code).to.equal(2);
    expect(r.err).to.deep.equal([
      'error: --csr-timeout: invalid argument "soon": time: invalid duration "soon"; fix: --csr-timeout=20s',
      "error: --bogus: unknown flag; fix: run 'kube-delegated-auth conformance --help' for the flags",
      'error: extra: unexpected argument (this command takes flags only); fix: drop it, or give it to the flag it belongs to (--flag extra)',
      'error: --apiservice: required flag not set; fix: --apiservice=<version>.<group> (kubectl get apiservices lists them)',
      'error: --output: invalid argument "yaml"; fix: --output=table or --output=json',
    ]);
  });

  it('names the kubeconfig problem in one line, exit 1, before touching any cluster', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kda-probe-cmd-'));
    const missing = join(dir, 'missing.kubeconfig');
    const r = await cli(['conformance', '--kubeconfig', missing, '--apiservice', 'v1.x.example.com']);
    expect(r.code).to.equal(1);
    expect(r.err).to.have.length(1);
    expect(r.err[0]).to.match(/^error: --kubeconfig: .*missing\.kubeconfig.*; fix: --kubeconfig=/);
    const empty = join(dir, 'empty.kubeconfig');
    writeFileSync(empty, 'apiVersion: v1\nkind: Config\n');
    const e = await cli(['conformance', '--kubeconfig', empty, '--apiservice', 'v1.x.example.com']);
    expect(e.code).to.equal(1);
    expect(e.err).to.deep.equal([
      `error: --kubeconfig: kubeconfig:${empty}: no current context or its cluster is missing; fix: --kubeconfig=<a kubeconfig whose current context names its cluster>`,
    ]);
  });
});
