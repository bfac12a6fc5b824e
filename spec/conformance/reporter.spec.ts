import { expect } from 'chai';
import { formatCaseLine, formatSummary, junitXml, summarize } from '../../conformance/reporter.js';
import type { CaseResult } from '../../conformance/types.js';

const results: CaseResult[] = [
  { name: 'discovery lists the resource', outcome: 'passed', durationMs: 1234, detail: 'after 1.2s\nsecond line' },
  {
    name: 'a <tricky> & "quoted" case',
    outcome: 'failed',
    durationMs: 50,
    error: 'AssertionError: expected 403, got 200\n    at x.ts:1',
  },
  { name: 'rotation', outcome: 'skipped', durationMs: 0, detail: 'cluster mode: needs to restart kube-apiserver' },
];

describe('conformance reporter', () => {
  describe('formatCaseLine', () => {
    const cases: readonly { name: string; result: CaseResult; line: string }[] = [
      {
        name: 'pass with the first line of the detail',
        result: results[0]!,
        line: 'PASS  discovery lists the resource (1.2s) - after 1.2s',
      },
      {
        name: 'fail with the first line of the error',
        result: results[1]!,
        line: 'FAIL  a <tricky> & "quoted" case (0.1s): AssertionError: expected 403, got 200',
      },
      {
        name: 'skip with the reason',
        result: results[2]!,
        line: 'SKIP  rotation: cluster mode: needs to restart kube-apiserver',
      },
      {
        name: 'pass without detail',
        result: { name: 'x', outcome: 'passed', durationMs: 0 },
        line: 'PASS  x (0.0s)',
      },
    ];
    for (const c of cases) it(c.name, () => expect(formatCaseLine(c.result)).to.equal(c.line));
  });

  it('summarizes counts by outcome (a skip is never counted as passed)', () => {
    const report = summarize('cluster', results, new Date(Date.now() - 5000));
    expect({ passed: report.passed, failed: report.failed, skipped: report.skipped }).to.deep.equal({
      passed: 1,
      failed: 1,
      skipped: 1,
    });
    expect(formatSummary(report)).to.match(
      /^conformance \(cluster\): 1 passed, 1 failed, 1 skipped of 3 cases in \d+\.\ds$/,
    );
  });

  describe('junitXml', () => {
    const xml = junitXml(summarize('local', results, new Date('2026-01-02T03:04:05.000Z')));

    it('has one testsuite with the counts', () => {
      expect(xml).to.match(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /);
      expect(xml).to.contain('tests="3" failures="1" errors="0" skipped="1" timestamp="2026-01-02T03:04:05.000Z"');
      expect(xml.match(/<testcase /g)).to.have.length(3);
    });

    it('escapes names and messages', () => {
      expect(xml).to.contain('name="a &lt;tricky&gt; &amp; &quot;quoted&quot; case"');
      expect(xml).not.to.contain('<tricky>');
    });

    it('marks failures with the whole error and skips with the reason', () => {
      expect(xml).to.contain('<failure message="AssertionError: expected 403, got 200" type="AssertionError">');
      expect(xml).to.contain('    at x.ts:1</failure>');
      expect(xml).to.contain('<skipped message="cluster mode: needs to restart kube-apiserver"/>');
    });

    it('drops control characters XML 1.0 cannot carry', () => {
      const x = junitXml(
        summarize(
          'local',
          [{ name: 'ctl\u0001char', outcome: 'failed', durationMs: 0, error: 'bad\u0007bell' }],
          new Date(),
        ),
      );
      expect(x).to.contain('name="ctlchar"');
      expect(x).to.contain('badbell');
    });
  });
});
