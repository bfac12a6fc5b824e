// Runs the conformance suite (conformance/run.ts) in local mode inside the end-to-end run, so CI exercises it on
// every run: one `it` per case, each asserting that its case passed. The suite brings up its own etcd and
// kube-apiserver (its rotation case restarts kube-apiserver, which the shared control plane must not see).
import { expect } from 'chai';
import { allCases } from '../../conformance/cases/index.js';
import type { SuiteReport } from '../../conformance/reporter.js';
import { runConformance } from '../../conformance/run.js';

describe('conformance suite (local mode, through the real aggregator)', function () {
  let report: SuiteReport | undefined;
  const lines: string[] = [];

  before(async function () {
    this.timeout(600_000);
    report = await runConformance({
      mode: 'local',
      junitPath: process.env.KDA_CONFORMANCE_JUNIT ?? null,
      out: (line) => lines.push(line),
      log: (msg) => process.stderr.write(`[conformance] ${msg}\n`),
    });
  });

  after(() => {
    if (report && report.failed > 0) process.stderr.write(`${lines.join('\n')}\n`);
  });

  it('reports every case of the suite, one line each, and a summary', () => {
    expect(report!.results.map((r) => r.name)).to.deep.equal(allCases.map((c) => c.name));
    expect(lines.filter((l) => /^(PASS|FAIL|SKIP) {2}/.test(l))).to.have.length(allCases.length);
    expect(lines).to.include.members([
      `conformance (local): ${report!.passed} passed, ${report!.failed} failed, ${report!.skipped} skipped of ${allCases.length} cases in ${(report!.durationMs / 1000).toFixed(1)}s`,
    ]);
  });

  for (const c of allCases) {
    it(c.name, () => {
      const r = report!.results.find((x) => x.name === c.name);
      expect(r, 'case missing from the report').to.not.equal(undefined);
      // Local mode has every capability: a skip here would hide a case, so it counts as a failure.
      expect(r!.outcome, r!.error ?? r!.detail ?? '').to.equal('passed');
    });
  }
});
