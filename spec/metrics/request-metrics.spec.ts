// lib/metrics/request-metrics.ts through createMetrics: what the authn/authz channels feed, and Go's username compression.
import { expect } from 'chai';
import { channelNames, compressUsername, createMetrics } from '../../lib/metrics/metrics.js';
import { freshMetrics, publish, scrape } from './support.js';

describe('metrics/request-metrics: Go-named attempt metrics on the diagnostics channels', () => {
  const fresh = freshMetrics();

  it('authentication events: attempts and duration by result, authenticated_user_requests by compressed name', async () => {
    const m = fresh();
    const user = { name: 'admin', uid: '', groups: [], extra: {} };
    publish(channelNames.authn, { result: 'success', user, authenticator: 'x509', durationSeconds: 0.003 });
    publish(channelNames.authn, { result: 'success', user: { ...user, name: 'a@b.c' }, durationSeconds: 0.001 });
    publish(channelNames.authn, { result: 'error', durationSeconds: 0.5 });
    publish(channelNames.authn, { result: 'failure', durationSeconds: 0.0001 });
    const s = await scrape(m);
    expect(s.get('authentication_attempts{result="success"}')).to.equal(2);
    expect(s.get('authentication_attempts{result="error"}')).to.equal(1);
    expect(s.get('authentication_attempts{result="failure"}')).to.equal(1);
    expect(s.get('authentication_duration_seconds_count{result="success"}')).to.equal(2);
    expect(s.get('authentication_duration_seconds_bucket{le="0.004",result="success"}')).to.equal(2);
    expect(s.get('authentication_duration_seconds_bucket{le="0.256",result="error"}')).to.equal(0);
    expect(s.get('authenticated_user_requests{username="admin"}')).to.equal(1);
    expect(s.get('authenticated_user_requests{username="email_id"}')).to.equal(1);
  });

  it('authorization events: attempts and duration by result', async () => {
    const m = fresh();
    for (const result of ['allowed', 'allowed', 'denied', 'no-opinion', 'error']) {
      publish(channelNames.authz, { result, durationSeconds: 0.002 });
    }
    const s = await scrape(m);
    expect(s.get('authorization_attempts_total{result="allowed"}')).to.equal(2);
    expect(s.get('authorization_attempts_total{result="denied"}')).to.equal(1);
    expect(s.get('authorization_attempts_total{result="no-opinion"}')).to.equal(1);
    expect(s.get('authorization_attempts_total{result="error"}')).to.equal(1);
    expect(s.get('authorization_duration_seconds_count{result="allowed"}')).to.equal(2);
  });

  it('close() stops counting (channels unsubscribed) and is idempotent', async () => {
    const m = createMetrics();
    await m.close();
    await m.close();
    publish(channelNames.authz, { result: 'allowed', durationSeconds: 0.001 });
    expect((await scrape(m)).get('authorization_attempts_total{result="allowed"}')).to.equal(undefined);
  });

  describe('compressUsername (Go TestCompressUsername cases)', () => {
    const cases: readonly [string, string][] = [
      ['admin', 'admin'],
      ['kubelet', 'kubelet'],
      ['kube_proxy', 'kube_proxy'],
      ['client', 'client'],
      ['system:serviceaccount:kube-system:default', 'system:serviceaccount:kube-system:default'],
      ['system:serviceaccount:kube-system:other', 'other'],
      ['foo@example.com', 'email_id'],
      ['alice', 'other'],
      ['', 'other'],
    ];
    for (const [input, want] of cases)
      it(`${JSON.stringify(input)} -> ${want}`, () => {
        expect(compressUsername(input)).to.equal(want);
      });
  });
});
