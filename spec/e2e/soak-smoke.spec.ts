import { expect } from 'chai';
import { formatSoakReport, parsePrometheusText, runSoak, type SoakReport } from '../../scripts/soak.js';
import { getCluster } from './support/cluster.js';

// 30 seconds of the soak's mixed traffic against the sample server in cluster mode behind the real aggregator, then
// the server's own /metrics: every kind of request must get its expected answer, and the metrics must tell the
// same story as the traffic.
describe('soak smoke: 30 s of mixed traffic on the real control plane', function () {
  this.timeout(240_000);
  let report: SoakReport;
  let series: Map<string, number>;

  before(async () => {
    report = await runSoak({
      controlPlane: getCluster(),
      durationMs: 30_000,
      concurrency: 4,
      sampleEveryMs: 5_000,
      settleMs: 5_000,
      log: (m) => process.stderr.write(`[soak-smoke] ${m}\n`),
    });
    process.stderr.write(`${formatSoakReport(report)}\n`);
    series = parsePrometheusText(report.metricsText);
  });

  it('zero unexpected answers, the server stayed up, every kind of request was sent', () => {
    const unexpected = report.kinds.flatMap((k) => k.unexpectedExamples.map((e) => `${k.kind}: ${e}`));
    expect(unexpected).to.deep.equal([]);
    expect(report.unexpected).to.equal(0);
    expect(report.serverAlive).to.equal(true);
    for (const k of report.kinds) expect(k.requests, k.kind).to.be.greaterThan(0);
    expect(report.expectedRefusals).to.be.greaterThan(0);
    expect(report.rss.length).to.be.greaterThan(2);
  });

  it('/readyz?verbose still passes with every trust check loaded', () => {
    expect(report.readyz.status).to.equal(200);
    const trustLines = report.readyz.body.split('\n').filter((l) => l.includes('trust:'));
    expect(trustLines.length).to.be.at.least(2);
    for (const l of trustLines) expect(l).to.match(/^\[\+\]trust:\S+ ok/);
    expect(report.readyz.body).to.contain('readyz check passed');
  });

  it('no error-level line in the server log (refusals are warn/info)', () => {
    expect(report.logLevels.error ?? 0).to.equal(0);
    expect(report.logLevels.warn ?? 0).to.be.greaterThan(0);
  });

  describe('/metrics after the traffic', () => {
    const get = (k: string) => series.get(k) ?? 0;
    const kindCount = (name: string) => report.kinds.find((k) => k.kind === name)?.requests ?? 0;

    it('authentication_attempts: successes and errors (bad tokens, self-signed proxy certs) at least as sent', () => {
      expect(get('authentication_attempts{result="success"}')).to.be.at.least(
        kindCount('allowed user (client cert at KAS)') + kindCount('client certificate user allowed'),
      );
      expect(get('authentication_attempts{result="error"}')).to.be.at.least(
        kindCount('bad bearer token') + kindCount('spoofed X-Remote-* with a self-signed proxy cert'),
      );
      expect(get('authentication_duration_seconds_count{result="success"}')).to.equal(
        get('authentication_attempts{result="success"}'),
      );
    });

    it('authorization_attempts_total: allowed and no-opinion (RBAC denials), no errors', () => {
      expect(get('authorization_attempts_total{result="allowed"}')).to.be.greaterThan(0);
      expect(get('authorization_attempts_total{result="no-opinion"}')).to.be.at.least(
        kindCount('denied user (client cert at KAS)') + kindCount('service-account token denied'),
      );
      expect(get('authorization_attempts_total{result="error"}')).to.equal(0);
    });

    it('delegated TokenReview and SubjectAccessReview calls: 201s only, one per cache miss', () => {
      const sar201 = get('apiserver_delegated_authz_request_total{code="201"}');
      const tr201 = get('apiserver_delegated_authn_request_total{code="201"}');
      expect(sar201).to.be.greaterThan(0);
      expect(tr201).to.be.greaterThan(0);
      const otherCodes = [...series.keys()].filter(
        (k) => /^apiserver_delegated_auth[nz]_request_total\{/.test(k) && !k.includes('code="201"'),
      );
      expect(otherCodes).to.deep.equal([]);
      // Cold identities are misses; repeated identities hit the decision cache.
      expect(get('kube_delegated_auth_authz_cache_misses_total')).to.be.at.least(sar201);
      expect(get('kube_delegated_auth_authz_cache_hits_total')).to.be.greaterThan(0);
      expect(get('kube_delegated_auth_authz_cache_entries')).to.be.greaterThan(0);
      expect(get('authentication_token_cache_request_total{status="hit"}')).to.be.greaterThan(0);
      expect(get('authentication_token_cache_request_total{status="miss"}')).to.equal(tr201);
      // kube-apiserver answers a garbage token with status.error: an error result, never cached (Go cacheErrs=false).
      expect(get('authentication_token_cache_fetch_total{status="error"}')).to.be.within(
        1,
        kindCount('bad bearer token'),
      );
      expect(get('authentication_token_cache_fetch_total{status="ok"}')).to.be.greaterThan(0);
    });

    it('client certificate expiration observed for direct client certificates, in a sensible bucket', () => {
      const count = get('apiserver_client_certificate_expiration_seconds_count');
      expect(count).to.be.at.least(kindCount('client certificate user allowed'));
      // Harness certificates live about a year: nothing expires within the hour.
      expect(get('apiserver_client_certificate_expiration_seconds_bucket{le="3600"}')).to.equal(0);
    });

    it('trust from the ConfigMap is loaded, fresh and error-free', () => {
      const loaded = [...series.entries()].filter(([k]) => k.startsWith('kube_delegated_auth_trust_loaded{'));
      expect(loaded.length).to.be.at.least(2);
      for (const [k, v] of loaded) expect(v, k).to.equal(1);
      const errors = [...series.entries()].filter(([k]) =>
        k.startsWith('kube_delegated_auth_trust_source_last_error{'),
      );
      for (const [k, v] of errors) expect(v, k).to.equal(0);
      const ages = [...series.entries()].filter(([k]) => k.startsWith('kube_delegated_auth_trust_source_age_seconds{'));
      for (const [k, v] of ages) expect(v, k).to.be.within(0, 3600);
    });
  });
});
