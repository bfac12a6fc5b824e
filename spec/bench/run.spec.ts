import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { figureLine, goFigures } from './figures.js';

// Without kube-apiserver the Go figures cannot be measured: the bench must still print each of them as one SKIPPED
// line with the reason, never a number, and not fail the run.
describe('bench/run.ts without a control plane', function () {
  this.timeout(120_000);

  it('prints every Go figure as SKIPPED with the reason and exits 0', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--quick', '--no-cluster', '--only', 'anchor-go'],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).to.equal(0);
    const anchor = goFigures.filter((l) => !l.startsWith('cache miss'));
    expect(anchor).to.have.length(2);
    for (const label of anchor) {
      const line = figureLine(r.stdout, label);
      expect(line, `${label} in\n${r.stdout}`).to.be.a('string');
      expect(line).to.match(/: SKIPPED: no real kube-apiserver .*\[SKIPPED\]$/);
      expect(line).not.to.match(/\d+ req\/s/);
    }
  });

  it('refuses an unknown scenario with one line naming it', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--only', 'no-such-scenario'], {
      encoding: 'utf8',
    });
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.include('--only: unknown scenario no-such-scenario');
  });
});
