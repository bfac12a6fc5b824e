// cli/conformance/output.ts and the health-body rule of cli/conformance/cases.ts: one table block per case, the
// summary that never counts a skip as a pass, JSON, and JUnit XML with escaping.
import { expect } from 'chai';
import { isPlainHealthBody, type ProbeResult } from '../../../cli/conformance/cases.js';
import { formatSummary, formatTableLine, toJson, toJunit, type ProbeReport } from '../../../cli/conformance/output.js';

const results: ProbeResult[] = [
  { name: 'direct: a', rule: 'rule a', outcome: 'pass', detail: 'HTTP 403', durationMs: 12 },
  {
    name: 'direct: <b> & "c"',
    rule: 'rule b',
    outcome: 'fail',
    detail: 'HTTP 200 "<items>"',
    hint: 'fix \u0001it',
    durationMs: 1500,
  },
  { name: 'cluster: csr', rule: 'rule c', outcome: 'skip', detail: 'not signed', durationMs: 0 },
];
const report: ProbeReport = {
  apiService: 'v1.x.example.com',
  backend: 'direct at localhost:1',
  runId: 'abcd1234',
  results,
  passed: 1,
  failed: 1,
  skipped: 1,
  durationMs: 2500,
  cleanupProblems: [],
};

describe('conformance probe output', () => {
  it('writes one block per case: outcome and name, rule, evidence, and the fix on failures only', () => {
    expect(formatTableLine(results[0]!)).to.equal('pass  direct: a\n        rule: rule a\n        got: HTTP 403');
    expect(formatTableLine(results[1]!)).to.equal(
      'FAIL  direct: <b> & "c"\n        rule: rule b\n        got: HTTP 200 "<items>"\n        fix: fix \u0001it',
    );
    expect(formatTableLine(results[2]!)).to.equal(
      'skip  cluster: csr\n        rule: rule c\n        skipped: not signed',
    );
  });

  it('summarizes with the skip count apart from the passes, and lists cleanup problems', () => {
    expect(formatSummary(report)).to.equal(
      'conformance of v1.x.example.com: 1 passed, 1 FAILED, 1 skipped of 3 (a skip is not a pass) in 2.5s',
    );
    expect(formatSummary({ ...report, cleanupProblems: ['could not delete /x: boom'] })).to.match(
      /\ncleanup: could not delete \/x: boom$/,
    );
  });

  it('round-trips the report as JSON', () => {
    expect(JSON.parse(toJson(report))).to.deep.equal(report);
  });

  it('writes JUnit XML with failures, skips and escaped text', () => {
    const xml = toJunit(report);
    expect(xml).to.include(
      '<testsuite name="kube-delegated-auth conformance v1.x.example.com" tests="3" failures="1" skipped="1" errors="0" time="2.500">',
    );
    expect(xml).to.include(
      '<testcase classname="conformance.v1.x.example.com" name="direct: &lt;b&gt; &amp; &quot;c&quot;" time="1.500">\n    <failure message="HTTP 200 &quot;&lt;items&gt;&quot;">rule: rule b\nfix: fix it</failure>',
    );
    expect(xml).to.include('<skipped message="not signed"/>');
    expect(xml.match(/<testcase /g)).to.have.length(3);
  });
});

describe('conformance probe: health bodies', () => {
  const plain = [
    'ok',
    '[+]ping ok\n[+]log ok\nhealthz check passed\n',
    '[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed',
    '[+]trust:client-ca::kube-system::extension-apiserver-authentication::client-ca-file ok\nreadyz check passed',
    '[+]poststarthook/start-informers excluded: ok\nlivez check passed',
  ];
  const leaking = [
    '{"kind":"WidgetList","items":[]}',
    '[-]etcd failed: dial tcp 10.0.0.5:2379: connection refused',
    'ok\n/var/run/secrets/kubernetes.io/serviceaccount/token',
    '[+]ping ok\nversion: 1.2.3 built from /home/ci/src',
  ];
  for (const body of plain) it(`plain: ${JSON.stringify(body)}`, () => expect(isPlainHealthBody(body)).to.equal(true));
  for (const body of leaking) {
    it(`data: ${JSON.stringify(body)}`, () => expect(isPlainHealthBody(body)).to.equal(false));
  }
});
