// /healthz /livez /readyz of kube-delegated-auth/apiserver on a real HTTPS socket: Go's healthz text byte for byte,
// ?verbose, ?exclude=, per-check paths, the trust-source checks of a real local-mode stack, informer-style readiness.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { healthEndpoints, informerSyncCheck, trustSourceChecks, type HealthCheck } from '../../lib/apiserver/index.js';
import { createDelegatedAuth } from '../../lib/delegated-auth.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { testPki } from '../support/pki.js';
import { recordingLogger } from '../support/recording-logger.js';
import { startBlockServer, type BlockServer } from './serve-blocks.js';

/** A check whose outcome the test flips: undefined = healthy, a string = throws an Error with it. */
function switchable(name: string, mode: 'sync' | 'async' = 'sync') {
  const state = { failure: undefined as string | undefined };
  const check: HealthCheck = {
    name,
    check:
      mode === 'sync'
        ? () => {
            if (state.failure !== undefined) throw new Error(state.failure);
          }
        : async () => {
            await Promise.resolve();
            if (state.failure !== undefined) throw new Error(state.failure);
          },
  };
  return { check, state };
}

describe('apiserver/health: Go healthz endpoints', () => {
  const db = switchable('db', 'async');
  const cache = switchable('cache');
  const deadlock = switchable('deadlock');
  const shared = switchable('shared');
  const log = recordingLogger();
  let srv: BlockServer;

  before(async () => {
    srv = await startBlockServer(
      healthEndpoints({
        checks: [shared.check],
        livezChecks: [deadlock.check],
        readyzChecks: [db.check, cache.check],
        logger: log,
      }),
    );
  });
  after(() => srv.close());
  beforeEach(() => {
    for (const c of [db, cache, deadlock, shared]) c.state.failure = undefined;
    log.lines.length = 0;
  });

  it('answers 200 "ok" (text/plain, nosniff) when every check passes, on all three endpoints', async () => {
    for (const path of ['/healthz', '/livez', '/readyz']) {
      const res = await srv.get(path);
      expect(res.status, path).to.equal(200);
      expect(res.body, path).to.equal('ok');
      expect(res.headers['content-type']).to.equal('text/plain; charset=utf-8');
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
    }
  });

  it('?verbose lists every check of that endpoint, ping first, then "<endpoint> check passed"', async () => {
    expect((await srv.get('/readyz?verbose')).body).to.equal(
      '[+]ping ok\n[+]shared ok\n[+]db ok\n[+]cache ok\nreadyz check passed\n',
    );
    expect((await srv.get('/livez?verbose')).body).to.equal(
      '[+]ping ok\n[+]shared ok\n[+]deadlock ok\nlivez check passed\n',
    );
    expect((await srv.get('/healthz?verbose=1')).body).to.equal('[+]ping ok\n[+]shared ok\nhealthz check passed\n');
  });

  it('a failing check: 500, always verbose, the reason withheld from the body and logged', async () => {
    db.state.failure = 'connection refused to postgres://secret@10.0.0.7';
    const res = await srv.get('/readyz');
    expect(res.status).to.equal(500);
    expect(res.body).to.equal(
      '[+]ping ok\n[+]shared ok\n[-]db failed: reason withheld\n[+]cache ok\nreadyz check failed\n',
    );
    expect(res.headers['content-type']).to.equal('text/plain; charset=utf-8');
    expect(res.body).not.to.include('secret');
    const line = log.lines.find((l) => l.fields.check === 'db');
    expect(line?.level).to.equal('warn');
    expect(line?.fields.error).to.equal('connection refused to postgres://secret@10.0.0.7');
    expect(line?.fields.endpoint).to.equal('readyz');
    // A readyz-only check does not touch liveness.
    expect((await srv.get('/livez')).status).to.equal(200);
    expect((await srv.get('/healthz')).status).to.equal(200);
  });

  it('a check added to all endpoints fails all three; a livez check fails /livez only', async () => {
    shared.state.failure = 'x';
    for (const path of ['/healthz', '/livez', '/readyz']) {
      const res = await srv.get(path);
      expect(res.status, path).to.equal(500);
      expect(res.body, path).to.include('[-]shared failed: reason withheld\n');
    }
    shared.state.failure = undefined;
    deadlock.state.failure = 'stuck';
    expect((await srv.get('/livez')).status).to.equal(500);
    expect((await srv.get('/readyz')).status).to.equal(200);
  });

  it('?exclude= skips checks (repeatable), reports them as excluded, and warns about names that match none', async () => {
    db.state.failure = 'down';
    cache.state.failure = 'down';
    expect((await srv.get('/readyz?exclude=db&exclude=cache')).body).to.equal('ok');
    const res = await srv.get('/readyz?verbose&exclude=db&exclude=cache&exclude=zeta&exclude=alpha');
    expect(res.status).to.equal(200);
    expect(res.body).to.equal(
      '[+]ping ok\n[+]shared ok\n[+]db excluded: ok\n[+]cache excluded: ok\n' +
        'warn: some health checks cannot be excluded: no matches for "alpha","zeta"\nreadyz check passed\n',
    );
    // Excluding one of two failing checks still fails.
    const partial = await srv.get('/readyz?exclude=db');
    expect(partial.status).to.equal(500);
    expect(partial.body).to.include('[+]db excluded: ok\n[-]cache failed: reason withheld\n');
  });

  it('/<endpoint>/<name> runs one check: "ok", or 500 "internal server error: <error>" as Go answers it', async () => {
    const ok = await srv.get('/readyz/db');
    expect([ok.status, ok.body]).to.deep.equal([200, 'ok']);
    db.state.failure = 'not connected';
    const bad = await srv.get('/readyz/db');
    expect([bad.status, bad.body]).to.deep.equal([500, 'internal server error: not connected\n']);
    expect((await srv.get('/readyz/ping')).body).to.equal('ok');
    expect((await srv.get('/livez/deadlock')).body).to.equal('ok');
  });

  it('leaves other paths to the caller: unknown checks, a check of another endpoint, trailing slash, look-alikes', async () => {
    for (const path of ['/readyz/nope', '/healthz/db', '/livez/db', '/readyz/', '/readyzz', '/healthz.json', '/']) {
      const res = await srv.get(path);
      expect(res.headers['x-fallthrough'], path).to.equal('true');
    }
  });

  it("answers HEAD and other methods as Go's mux does (any method)", async () => {
    const head = await srv.get('/readyz', {}, 'HEAD');
    expect(head.status).to.equal(200);
    expect(head.body).to.equal('');
    expect((await srv.get('/healthz', {}, 'POST')).status).to.equal(200);
  });

  it('a check that throws a non-Error or rejects with undefined is a failure, not a crash', async () => {
    const weird = await startBlockServer(
      healthEndpoints({
        readyzChecks: [
          {
            name: 'string-throw',
            check: () => {
              throw 'plain string';
            },
          },
          { name: 'undefined-reject', check: () => Promise.reject(undefined) },
        ],
      }),
    );
    try {
      const res = await weird.get('/readyz');
      expect(res.status).to.equal(500);
      expect(res.body).to.equal(
        '[+]ping ok\n[-]string-throw failed: reason withheld\n[-]undefined-reject failed: reason withheld\nreadyz check failed\n',
      );
      expect((await weird.get('/readyz/string-throw')).body).to.equal('internal server error: plain string\n');
    } finally {
      await weird.close();
    }
  });

  it('refuses duplicate or unusable check names when built', () => {
    const c = { name: 'db', check: () => {} };
    expect(() => healthEndpoints({ readyzChecks: [c, c] })).to.throw(InvalidOptionError, /duplicate check name "db"/);
    expect(() => healthEndpoints({ checks: [{ name: 'ping', check: () => {} }] })).to.throw(
      /duplicate check name "ping"/,
    );
    expect(() => healthEndpoints({ readyzChecks: [{ name: 'has space', check: () => {} }] })).to.throw(
      InvalidOptionError,
    );
    expect(() => healthEndpoints({ readyzChecks: [{ name: 'x' } as unknown as HealthCheck] })).to.throw(
      InvalidOptionError,
    );
  });
});

describe('apiserver/health: informer-style readiness', () => {
  it('fails until the predicate first holds, then passes for good; a throwing predicate is a failure', async () => {
    let synced: boolean | 'throw' = false;
    const check = informerSyncCheck(async () => {
      if (synced === 'throw') throw new Error('lister broke');
      return synced;
    });
    expect(check.name).to.equal('informer-sync');
    const srv = await startBlockServer(healthEndpoints({ readyzChecks: [check] }));
    try {
      expect((await srv.get('/readyz/informer-sync')).body).to.equal('internal server error: not synced yet\n');
      synced = 'throw';
      expect((await srv.get('/readyz/informer-sync')).body).to.equal('internal server error: lister broke\n');
      synced = true;
      expect((await srv.get('/readyz?verbose')).body).to.equal(
        '[+]ping ok\n[+]informer-sync ok\nreadyz check passed\n',
      );
      synced = false; // an informer never un-syncs: the check latched
      expect((await srv.get('/readyz')).status).to.equal(200);
    } finally {
      await srv.close();
    }
  });

  it('takes a custom name', () => {
    expect(informerSyncCheck(() => true, 'widgets-synced').name).to.equal('widgets-synced');
  });
});

describe('apiserver/health: trust-source checks of a delegatedAuth stack', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kda-health-'));
    writeFileSync(join(dir, 'front-proxy-ca.crt'), testPki().frontProxyCA.certPem);
    writeFileSync(join(dir, 'client-ca.crt'), testPki().clientCA.certPem);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a real local-mode stack: /readyz fails until start() has read the CA files, then passes; no path is shown', async () => {
    const stack = createDelegatedAuth({
      mode: 'local',
      requestheaderClientCaFile: join(dir, 'front-proxy-ca.crt'),
      clientCaFile: join(dir, 'client-ca.crt'),
    });
    const log = recordingLogger();
    const srv = await startBlockServer(healthEndpoints({ readyzChecks: trustSourceChecks(stack), logger: log }));
    try {
      const before = await srv.get('/readyz?verbose');
      expect(before.status).to.equal(500);
      // The front-proxy CA is what the aggregator needs: it fails; a missing client CA only turns cert users off.
      expect(before.body).to.equal(
        '[+]ping ok\n[+]trust:client-ca-bundle ok\n[-]trust:request-header failed: reason withheld\nreadyz check failed\n',
      );
      expect(before.body).not.to.include(dir);
      const single = await srv.get('/readyz/trust:request-header');
      expect(single.body).to.equal('internal server error: request-header not loaded\n');
      expect(single.body).not.to.include(dir);
      await stack.start();
      const after = await srv.get('/readyz?verbose');
      expect(after.status).to.equal(200);
      expect(after.body).to.equal(
        '[+]ping ok\n[+]trust:client-ca-bundle ok\n[+]trust:request-header ok\nreadyz check passed\n',
      );
    } finally {
      await srv.close();
      await stack.close();
    }
  });

  it('requireClientCA fails readiness on an unloaded client CA too', async () => {
    const stack = createDelegatedAuth({ mode: 'local', clientCaFile: join(dir, 'client-ca.crt') });
    try {
      const checks = trustSourceChecks(stack, { requireClientCA: true });
      expect(checks.map((c) => c.name)).to.deep.equal(['trust:client-ca-bundle']);
      expect(() => checks[0]!.check()).to.throw('client-ca-bundle not loaded');
      await stack.start();
      expect(() => checks[0]!.check()).not.to.throw();
    } finally {
      await stack.close();
    }
  });

  // The cluster-mode statuses below are what ExtensionApiserverAuthentication.status() reports; a stand-in stack
  // (status() only) because an unsynced ConfigMap needs a cluster the unit suite does not run.
  const unsyncedConfigMap = [
    { name: 'client-ca::kube-system::extension-apiserver-authentication::client-ca-file', loaded: false },
    {
      name: 'request-header::kube-system::extension-apiserver-authentication::requestheader-client-ca-file',
      loaded: false,
      lastError: 'configmaps "extension-apiserver-authentication" is forbidden: User "nobody" cannot get ...',
    },
    { name: 'request-header-config::kube-system::extension-apiserver-authentication', loaded: false },
  ];

  it('cluster mode: the ConfigMap not synced fails trust:request-header and trust:request-header-config; the detail goes to the log only', async () => {
    const log = recordingLogger();
    const srv = await startBlockServer(
      healthEndpoints({ readyzChecks: trustSourceChecks({ status: () => unsyncedConfigMap }), logger: log }),
    );
    try {
      const res = await srv.get('/readyz');
      expect(res.body).to.equal(
        '[+]ping ok\n[+]trust:client-ca ok\n[-]trust:request-header failed: reason withheld\n' +
          '[-]trust:request-header-config failed: reason withheld\nreadyz check failed\n',
      );
      expect((await srv.get('/readyz/trust:request-header')).body).to.equal(
        'internal server error: request-header not loaded\n',
      );
      const line = log.lines.find((l) => l.fields.check === 'trust:request-header');
      expect(line?.fields.detail).to.match(/is forbidden/);
    } finally {
      await srv.close();
    }
  });

  it('with --authentication-tolerate-lookup-failure or --authentication-skip-lookup nothing fails', async () => {
    for (const options of [{ authenticationTolerateLookupFailure: true }, { authenticationSkipLookup: true }]) {
      const checks = trustSourceChecks({ status: () => unsyncedConfigMap, options });
      for (const c of checks) expect(() => c.check()).not.to.throw();
    }
  });
});
