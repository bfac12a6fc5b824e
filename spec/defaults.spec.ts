import { expect } from 'chai';
import { serveDefaults, serveUsage } from '../cli/flags.js';
import { defaultAlwaysAllowGroups } from '../lib/authz/always-allow-groups.js';
import { defaultAlwaysAllowPaths } from '../lib/authz/always-allow-paths.js';
import { defaultWebhookBackoff } from '../lib/util/review-retry.js';
import { defaultRequestHeaderConfig } from '../lib/trust/static.js';
import { clientDefaults, delegatingDefaults, reviewDefaults, trustDefaults } from '../lib/defaults.js';

// The values are Go's (reference: kubernetes-delegated-auth.md §6.1, §7); a change here is a behaviour change.
describe('defaults (every Go default once)', () => {
  it("holds Go's delegating defaults", () => {
    expect(delegatingDefaults).to.deep.include({
      authenticationTokenWebhookCacheTtl: 10_000,
      authorizationWebhookCacheAuthorizedTtl: 10_000,
      authorizationWebhookCacheUnauthorizedTtl: 10_000,
    });
    expect(delegatingDefaults.authorizationAlwaysAllowPaths).to.deep.equal(['/healthz', '/readyz', '/livez']);
    expect(delegatingDefaults.authorizationAlwaysAllowGroups).to.deep.equal(['system:masters']);
    expect(delegatingDefaults.requestheaderUsernameHeaders).to.deep.equal(['x-remote-user']);
    expect(delegatingDefaults.requestheaderGroupHeaders).to.deep.equal(['x-remote-group']);
    expect(delegatingDefaults.requestheaderExtraHeadersPrefix).to.deep.equal(['x-remote-extra-']);
    expect(delegatingDefaults.requestheaderUidHeaders).to.deep.equal([]);
    expect(delegatingDefaults.requestheaderAllowedNames).to.deep.equal([]);
  });

  it("holds Go's review, client and trust defaults", () => {
    expect(reviewDefaults.retryBackoff).to.deep.equal({ initialDelay: 500, factor: 1.5, jitter: 0.2, steps: 5 });
    expect([reviewDefaults.clientTimeout, reviewDefaults.tokenRequestTimeout]).to.deep.equal([10_000, 10_000]);
    expect([clientDefaults.timeout, clientDefaults.qps, clientDefaults.burst]).to.deep.equal([10_000, 200, 400]);
    expect(trustDefaults).to.deep.include({
      namespace: 'kube-system',
      configMapName: 'extension-apiserver-authentication',
    });
  });

  it('is frozen, so no caller can change a default for everyone', () => {
    for (const d of [delegatingDefaults, reviewDefaults, clientDefaults, trustDefaults])
      expect(Object.isFrozen(d)).to.equal(true);
    expect(Object.isFrozen(delegatingDefaults.authorizationAlwaysAllowPaths)).to.equal(true);
  });

  it('the factories read them (one source, not copies)', () => {
    expect(defaultAlwaysAllowPaths).to.equal(delegatingDefaults.authorizationAlwaysAllowPaths);
    expect(defaultAlwaysAllowGroups).to.equal(delegatingDefaults.authorizationAlwaysAllowGroups);
    expect(defaultWebhookBackoff).to.equal(reviewDefaults.retryBackoff);
    expect(defaultRequestHeaderConfig.usernameHeaders).to.equal(delegatingDefaults.requestheaderUsernameHeaders);
  });

  it("the CLI's serve flags read them (the same objects, and --help shows them)", () => {
    for (const key of [
      'authorizationWebhookCacheAuthorizedTtl',
      'authorizationWebhookCacheUnauthorizedTtl',
      'authenticationTokenWebhookCacheTtl',
      'authorizationAlwaysAllowPaths',
      'requestheaderUsernameHeaders',
      'requestheaderGroupHeaders',
      'requestheaderExtraHeadersPrefix',
      'requestheaderUidHeaders',
      'requestheaderAllowedNames',
    ] as const) {
      expect(serveDefaults[key], key).to.equal(delegatingDefaults[key]);
    }
    expect(serveUsage).to.match(
      /--authorization-always-allow-paths strings .*\(default \[\/healthz,\/readyz,\/livez\]\)/,
    );
    expect(serveUsage).to.match(/--authentication-token-webhook-cache-ttl duration .*\(default 10s\)/);
  });
});
