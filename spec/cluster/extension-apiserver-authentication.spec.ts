import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  ExtensionApiserverAuthentication,
  type ExtensionApiserverAuthenticationOptions,
} from '../../lib/cluster/extension-apiserver-authentication.js';
import { RestClient } from '../../lib/cluster/rest-client.js';
import { KdaError } from '../../lib/errors.js';
import { testPki } from '../support/pki.js';
import { recordingLogger } from '../support/recording-logger.js';
import { waitFor } from '../support/wait-for.js';
import { sendJson, startFakeApiserver, status, type FakeApiserver, type RecordedRequest } from './fake-apiserver.js';

const cmPath = '/api/v1/namespaces/kube-system/configmaps';

/**
 * Waits for `cond`. A poll (10 ms) with a deadline: the conditions span the fake apiserver's request log, the loop's
 * providers and its status(), which share no event to wake on.
 */
async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  await waitFor(cond, { what, timeoutMs, intervalMs: 10 });
}

function fullData(over: Record<string, string | undefined> = {}): Record<string, string> {
  const pki = testPki();
  const d: Record<string, string | undefined> = {
    'client-ca-file': pki.clientCA.certPem,
    'requestheader-client-ca-file': pki.frontProxyCA.certPem,
    'requestheader-username-headers': '["X-Remote-User"]',
    'requestheader-group-headers': '["X-Remote-Group"]',
    'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
    'requestheader-allowed-names': '["front-proxy-client"]',
    ...over,
  };
  for (const k of Object.keys(d)) if (d[k] === undefined) delete d[k];
  return d as Record<string, string>;
}

/**
 * Emulates the list + watch endpoints of one ConfigMap (in-process fake): the test edits `state`, pushes watch
 * events, cuts watches, or answers with errors.
 */
class ConfigMapFake {
  data: Record<string, string> | undefined = fullData();
  rv = 100;
  watchers: ServerResponse[] = [];
  lists = 0;
  watches: URLSearchParams[] = [];
  listError: ((res: ServerResponse) => void) | undefined;

  handler = (req: RecordedRequest, res: ServerResponse): void => {
    if (req.path !== cmPath || req.query.get('fieldSelector') !== 'metadata.name=extension-apiserver-authentication') {
      sendJson(res, 404, status(404, 'NotFound', 'unexpected request'));
      return;
    }
    if (req.query.get('watch') === 'true') {
      this.watches.push(req.query);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      this.watchers.push(res);
      res.on('close', () => (this.watchers = this.watchers.filter((w) => w !== res)));
      return;
    }
    this.lists++;
    if (this.listError) return this.listError(res);
    sendJson(res, 200, {
      kind: 'ConfigMapList',
      apiVersion: 'v1',
      metadata: { resourceVersion: String(this.rv) },
      items: this.data ? [this.object()] : [],
    });
  };

  object(): object {
    return {
      metadata: {
        name: 'extension-apiserver-authentication',
        namespace: 'kube-system',
        resourceVersion: String(this.rv),
      },
      data: this.data,
    };
  }

  /** Changes the ConfigMap and sends the event to open watches. */
  modify(data: Record<string, string>, type = 'MODIFIED'): void {
    this.data = data;
    this.rv++;
    this.send({ type, object: this.object() });
  }

  delete(): void {
    this.rv++;
    const object = this.object();
    this.data = undefined;
    this.send({ type: 'DELETED', object });
  }

  send(ev: object): void {
    for (const w of this.watchers) w.write(JSON.stringify(ev) + '\n');
  }

  cut(): void {
    for (const w of this.watchers) w.socket?.destroy();
  }

  /** Ends the watches cleanly (as kube-apiserver does at the watch timeout): events sent before arrive first. */
  end(): void {
    for (const w of this.watchers) w.end();
  }
}

describe('cluster/extension-apiserver-authentication', () => {
  let fake: FakeApiserver;
  let cm: ConfigMapFake;
  let client: RestClient;
  let log: ReturnType<typeof recordingLogger>;
  const sources: ExtensionApiserverAuthentication[] = [];
  let dir: string;
  const pki = testPki();

  before(async () => {
    fake = await startFakeApiserver();
    dir = mkdtempSync(join(tmpdir(), 'kda-eaa-'));
  });
  after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    cm = new ConfigMapFake();
    fake.handle(cm.handler);
    fake.requests.length = 0;
    log = recordingLogger();
    client = new RestClient({
      connection: fake.connection({ token: () => 't', identity: 'system:serviceaccount:wardle:apiserver' }),
    });
  });
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.close()));
    await client.destroy();
  });

  const source = (opts: ExtensionApiserverAuthenticationOptions = {}): ExtensionApiserverAuthentication => {
    const s = new ExtensionApiserverAuthentication({
      client,
      logger: log,
      retryDelay: 20,
      maxRetryDelay: 50,
      ...opts,
    });
    sources.push(s);
    return s;
  };

  describe('runOnce', () => {
    it('loads both CA bundles and the header lists (JSON arrays)', async () => {
      const s = source();
      await s.runOnce();
      expect(s.clientCA.current()?.pem).to.equal(pki.clientCA.x509.toString().trim() + '\n');
      expect(s.clientCA.current()?.version).to.equal(1);
      expect(s.requestHeaderCA.current()?.certificates[0]?.subject).to.equal(pki.frontProxyCA.x509.subject);
      expect(s.requestHeaderConfig.current()).to.deep.equal({
        usernameHeaders: ['X-Remote-User'],
        uidHeaders: [],
        groupHeaders: ['X-Remote-Group'],
        extraHeaderPrefixes: ['X-Remote-Extra-'],
        allowedNames: ['front-proxy-client'],
      });
      expect(s.status().map((x) => [x.name, x.loaded, x.lastError])).to.deep.equal([
        ['client-ca::kube-system::extension-apiserver-authentication::client-ca-file', true, undefined],
        [
          'request-header::kube-system::extension-apiserver-authentication::requestheader-client-ca-file',
          true,
          undefined,
        ],
        ['request-header-config::kube-system::extension-apiserver-authentication', true, undefined],
      ]);
      expect(fake.requests[0]!.headers.authorization).to.equal('Bearer t');
    });

    it('null and empty header values are empty lists; allowed-names [] means any CN', async () => {
      cm.data = fullData({
        'requestheader-group-headers': 'null',
        'requestheader-allowed-names': '[]',
        'requestheader-uid-headers': '',
      });
      const s = source();
      await s.runOnce();
      expect(s.requestHeaderConfig.current()).to.include({});
      expect(s.requestHeaderConfig.current()?.groupHeaders).to.deep.equal([]);
      expect(s.requestHeaderConfig.current()?.allowedNames).to.deep.equal([]);
      expect(s.requestHeaderConfig.current()?.uidHeaders).to.deep.equal([]);
    });

    it('a missing client-ca-file key disables only client-certificate trust, with a warning naming the key', async () => {
      cm.data = fullData({ 'client-ca-file': undefined });
      const s = source();
      await s.runOnce();
      expect(s.clientCA.current()).to.equal(undefined);
      expect(s.requestHeaderCA.current()).not.to.equal(undefined);
      expect(s.requestHeaderConfig.current()).not.to.equal(undefined);
      expect(log.lines.some((l) => l.level === 'warn' && l.msg.includes('has no key "client-ca-file"'))).to.equal(true);
    });

    it('a ConfigMap without requestheader keys disables front-proxy trust only', async () => {
      cm.data = { 'client-ca-file': pki.clientCA.certPem };
      const s = source();
      await s.runOnce();
      expect(s.clientCA.current()).not.to.equal(undefined);
      expect(s.requestHeaderCA.current()).to.equal(undefined);
      expect(s.requestHeaderConfig.current()).to.equal(undefined);
      expect(log.lines.some((l) => l.level === 'warn' && l.msg.includes('"requestheader-client-ca-file"'))).to.equal(
        true,
      );
    });

    it('ConfigMap not found: resolves with everything disabled (Go treats NotFound as empty)', async () => {
      cm.data = undefined;
      const s = source();
      await s.runOnce();
      expect([s.clientCA.current(), s.requestHeaderCA.current(), s.requestHeaderConfig.current()]).to.deep.equal([
        undefined,
        undefined,
        undefined,
      ]);
      expect(log.lines.some((l) => l.level === 'warn' && l.msg.startsWith('configmap not found'))).to.equal(true);
    });

    it('invalid JSON in a header key fails startup with the key named', async () => {
      cm.data = fullData({ 'requestheader-username-headers': '["X-Remote-User"' });
      const err = await source()
        .runOnce()
        .catch((e: unknown) => e);
      expect(err).to.be.instanceOf(KdaError);
      expect((err as Error).message).to.match(
        /^unable to load configmap based request-header-client-ca-file: invalid request-header configuration: invalid JSON in key "requestheader-username-headers"/,
      );
    });

    it('a non-array header value fails startup', async () => {
      cm.data = fullData({ 'requestheader-group-headers': '{"a":1}' });
      const err = await source()
        .runOnce()
        .catch((e: unknown) => e);
      expect((err as Error).message).to.contain('key "requestheader-group-headers" must be a JSON array of strings');
    });

    it('invalid PEM at startup: that bundle stays unloaded with an error in status(), startup continues', async () => {
      cm.data = fullData({ 'client-ca-file': '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n' });
      const s = source();
      await s.runOnce();
      expect(s.clientCA.current()).to.equal(undefined);
      expect(s.status()[0]!.lastError).to.match(/error loading CA bundle for "client-ca::.*not valid base64/);
      expect(s.requestHeaderCA.current()).not.to.equal(undefined);
    });

    it('apiserver 500 at startup (in-process fake): Go startup error', async () => {
      cm.listError = (res) => sendJson(res, 500, status(500, 'InternalError', 'etcd is down'));
      const err = await source()
        .runOnce()
        .catch((e: unknown) => e);
      expect(err).to.be.instanceOf(KdaError);
      expect((err as KdaError).code).to.equal('ERR_KDA_TRUST_UNAVAILABLE');
      expect((err as Error).message).to.equal(
        'unable to load configmap based request-header-client-ca-file: etcd is down',
      );
    });

    it('authenticationTolerateLookupFailure: startup continues with Go warnings and the error in status()', async () => {
      cm.listError = (res) => sendJson(res, 500, status(500, 'InternalError', 'etcd is down'));
      const s = source({ authenticationTolerateLookupFailure: true });
      await s.runOnce();
      expect(s.requestHeaderCA.current()).to.equal(undefined);
      expect(s.status().every((x) => x.lastError === 'etcd is down')).to.equal(true);
      expect(log.lines.map((l) => l.msg)).to.include.members([
        'Error looking up in-cluster authentication configuration: etcd is down',
        'Continuing without authentication configuration. This may treat all requests as anonymous.',
        'To require authentication configuration lookup to succeed, set --authentication-tolerate-lookup-failure=false',
      ]);
    });

    it('authenticationSkipLookup: no request is made', async () => {
      const s = source({ authenticationSkipLookup: true });
      await s.runOnce();
      s.start();
      expect(fake.requests.length).to.equal(0);
      expect(s.requestHeaderCA.current()).to.equal(undefined);
    });

    it('no client: Go warnings, nothing loaded', async () => {
      const s = new ExtensionApiserverAuthentication({ logger: log });
      sources.push(s);
      await s.runOnce();
      expect(log.lines.filter((l) => l.msg.startsWith('No authentication-kubeconfig provided')).length).to.equal(2);
    });
  });

  describe('overrides', () => {
    it('clientCaFile replaces the client-ca-file key', async () => {
      const file = join(dir, 'client-ca.pem');
      writeFileSync(file, pki.otherCA.certPem);
      const s = source({ clientCaFile: file });
      await s.runOnce();
      expect(s.clientCA.name).to.equal(`client-ca-bundle::${file}`);
      expect(s.clientCA.current()?.certificates[0]?.subject).to.equal(pki.otherCA.x509.subject);
      expect(s.requestHeaderCA.current()?.certificates[0]?.subject).to.equal(pki.frontProxyCA.x509.subject);
    });

    it('requestheaderClientCaFile: file CA and header lists from options with Go defaults (ConfigMap lists ignored)', async () => {
      const file = join(dir, 'rh-ca.pem');
      writeFileSync(file, pki.otherCA.certPem);
      const s = source({ requestheaderClientCaFile: file, requestheaderAllowedNames: ['my-proxy'] });
      await s.runOnce();
      expect(s.requestHeaderCA.current()?.certificates[0]?.subject).to.equal(pki.otherCA.x509.subject);
      expect(s.requestHeaderConfig.current()).to.deep.equal({
        usernameHeaders: ['x-remote-user'],
        uidHeaders: [],
        groupHeaders: ['x-remote-group'],
        extraHeaderPrefixes: ['x-remote-extra-'],
        allowedNames: ['my-proxy'],
      });
    });

    it('a header flag overrides only its ConfigMap key', async () => {
      const s = source({ requestheaderUidHeaders: ['X-Remote-Uid'] });
      await s.runOnce();
      expect(s.requestHeaderConfig.current()?.uidHeaders).to.deep.equal(['X-Remote-Uid']);
      expect(s.requestHeaderConfig.current()?.allowedNames).to.deep.equal(['front-proxy-client']);
    });
  });

  describe('watch', () => {
    const started = async (opts: ExtensionApiserverAuthenticationOptions = {}) => {
      const s = source(opts);
      await s.runOnce();
      s.start();
      await until(() => cm.watchers.length === 1, 'the watch');
      return s;
    };

    it('watches with the field selector from the listed resourceVersion', async () => {
      await started();
      const q = cm.watches[0]!;
      expect(q.get('resourceVersion')).to.equal('100');
      expect(q.get('fieldSelector')).to.equal('metadata.name=extension-apiserver-authentication');
      expect(q.get('allowWatchBookmarks')).to.equal('true');
    });

    it('a replaced requestheader CA applies live: version bumps, listeners notified; same bytes: no bump', async () => {
      const s = await started();
      let providerCalls = 0;
      let sourceCalls = 0;
      s.requestHeaderCA.addListener(() => providerCalls++);
      s.addListener(() => sourceCalls++);
      cm.modify(fullData({ 'requestheader-client-ca-file': pki.otherCA.certPem }));
      await until(() => s.requestHeaderCA.current()?.version === 2, 'version 2');
      expect(s.requestHeaderCA.current()?.certificates[0]?.subject).to.equal(pki.otherCA.x509.subject);
      expect(s.clientCA.current()?.version).to.equal(1);
      expect([providerCalls, sourceCalls]).to.deep.equal([1, 1]);
      cm.modify(fullData({ 'requestheader-client-ca-file': pki.otherCA.certPem }));
      cm.modify(
        fullData({ 'requestheader-client-ca-file': pki.otherCA.certPem, 'requestheader-allowed-names': '["p2"]' }),
      );
      await until(() => s.requestHeaderConfig.current()?.allowedNames[0] === 'p2', 'allowed names p2');
      expect(s.requestHeaderCA.current()?.version).to.equal(2);
      expect(providerCalls).to.equal(1);
      expect(log.lines.some((l) => l.level === 'info' && l.msg === 'loaded a new CA bundle')).to.equal(true);
    });

    it('ERROR 410 Gone (in-process fake): relists, then watches from the new resourceVersion', async () => {
      const s = await started();
      expect(cm.lists).to.equal(1);
      cm.data = fullData({ 'client-ca-file': pki.otherCA.certPem });
      cm.rv = 500;
      cm.send({
        type: 'ERROR',
        object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' },
      });
      await until(() => cm.watches.length === 2, 'a second watch');
      expect(cm.lists).to.equal(2);
      expect(cm.watches[1]!.get('resourceVersion')).to.equal('500');
      expect(s.clientCA.current()?.certificates[0]?.subject).to.equal(pki.otherCA.x509.subject);
    });

    it('a cut watch (in-process fake) restarts after a backoff from the last resourceVersion, without relisting', async () => {
      const s = await started();
      cm.modify(fullData({ 'requestheader-allowed-names': '["a"]' }));
      await until(() => s.requestHeaderConfig.current()?.allowedNames[0] === 'a', 'first event');
      cm.cut();
      await until(() => cm.watches.length === 2, 'the watch to restart');
      expect(cm.watches[1]!.get('resourceVersion')).to.equal('101');
      expect(cm.lists).to.equal(1);
      cm.modify(fullData({ 'requestheader-allowed-names': '["b"]' }));
      await until(() => s.requestHeaderConfig.current()?.allowedNames[0] === 'b', 'event after restart');
    });

    it('garbage on the watch stream (in-process fake): the watch restarts', async () => {
      await started();
      for (const w of cm.watchers) w.write('this is not json\n');
      await until(() => cm.watches.length === 2, 'the watch to restart');
    });

    it('bookmarks advance the resourceVersion', async () => {
      await started();
      cm.send({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '777' } } });
      // Ended cleanly, not cut: the bookmark is read before the end of the stream, so the restart must carry it.
      cm.end();
      await until(() => cm.watches.length === 2, 'the watch to restart');
      expect(cm.watches[1]!.get('resourceVersion')).to.equal('777');
    });

    it('invalid PEM in an update: last-known-good kept, logged at error, reported by status()', async () => {
      const s = await started();
      cm.modify(fullData({ 'requestheader-client-ca-file': 'garbage' }));
      await until(() => s.status()[1]!.lastError !== undefined, 'the error');
      expect(s.requestHeaderCA.current()?.version).to.equal(1);
      expect(s.status()[1]!.lastError).to.contain('error loading CA bundle');
      expect(s.status()[1]!.loaded).to.equal(true);
      expect(
        log.lines.some((l) => l.level === 'error' && l.msg.includes('keeping the last-known-good value')),
      ).to.equal(true);
      cm.modify(fullData());
      await until(() => s.status()[1]!.lastError === undefined, 'the error to clear');
      expect(s.requestHeaderCA.current()?.version).to.equal(1);
    });

    it('invalid JSON in an update: last-known-good header config kept', async () => {
      const s = await started();
      cm.modify(fullData({ 'requestheader-username-headers': 'X-Remote-User' }));
      await until(() => s.status()[2]!.lastError !== undefined, 'the error');
      expect(s.requestHeaderConfig.current()?.usernameHeaders).to.deep.equal(['X-Remote-User']);
    });

    it('emptied CA key: last-known-good kept with "missing content" error', async () => {
      const s = await started();
      cm.modify(fullData({ 'client-ca-file': '' }));
      await until(() => s.status()[0]!.lastError !== undefined, 'the error');
      expect(s.status()[0]!.lastError).to.match(/^missing content for CA bundle "client-ca::/);
      expect(s.clientCA.current()).not.to.equal(undefined);
    });

    it('failClosedOnTrustError: invalid PEM drops the provider; a later valid bundle gets a new version', async () => {
      const s = await started({ failClosedOnTrustError: true });
      let calls = 0;
      s.requestHeaderCA.addListener(() => calls++);
      cm.modify(fullData({ 'requestheader-client-ca-file': 'garbage' }));
      await until(() => s.requestHeaderCA.current() === undefined, 'the provider to drop');
      expect(s.clientCA.current()).not.to.equal(undefined);
      cm.modify(fullData({ 'requestheader-client-ca-file': pki.otherCA.certPem }));
      await until(() => s.requestHeaderCA.current() !== undefined, 'the provider to return');
      expect(s.requestHeaderCA.current()?.version).to.equal(2);
      expect(calls).to.equal(2);
    });

    it('ConfigMap deleted: last-known-good kept and the deletion reported; re-created: error cleared', async () => {
      const s = await started();
      cm.delete();
      await until(() => s.status()[0]!.lastError !== undefined, 'the error');
      expect(
        s.status().every((x) => x.lastError === 'configmap kube-system/extension-apiserver-authentication was deleted'),
      ).to.equal(true);
      expect(s.clientCA.current()?.version).to.equal(1);
      expect(log.lines.some((l) => l.level === 'error')).to.equal(true);
      cm.modify(fullData(), 'ADDED');
      await until(() => s.status().every((x) => x.lastError === undefined), 'errors to clear');
      expect(s.clientCA.current()?.version).to.equal(1);
    });

    it('ConfigMap deleted with failClosedOnTrustError: every provider dropped', async () => {
      const s = await started({ failClosedOnTrustError: true });
      cm.delete();
      await until(() => s.clientCA.current() === undefined, 'the drop');
      expect(s.requestHeaderCA.current()).to.equal(undefined);
      expect(s.requestHeaderConfig.current()).to.equal(undefined);
    });

    it('the periodic re-read picks up a change the watch missed', async () => {
      const s = await started({ pollInterval: 30 });
      cm.data = fullData({ 'client-ca-file': pki.otherCA.certPem }); // no event sent
      await until(() => s.clientCA.current()?.version === 2, 'the poll');
      expect(cm.lists).to.be.greaterThan(1);
    });

    it('a periodic re-read refused (reader RoleBinding removed, in-process fake): last-known-good kept and the read error in status() until a read succeeds', async () => {
      const s = await started({ pollInterval: 30 });
      const before = s.requestHeaderCA.current()!.version;
      cm.listError = (res) =>
        sendJson(res, 403, status(403, 'Forbidden', 'configmaps "extension-apiserver-authentication" is forbidden'));
      await until(() => s.status().some((st) => st.lastError?.includes('unable to read configmap')), 'the read error');
      const st = s.status().find((x) => x.name === s.requestHeaderCA.name)!;
      expect(st.loaded).to.equal(true);
      expect(st.lastError).to.contain('forbidden');
      expect(st.lastErrorAt).to.be.a('number');
      expect(s.requestHeaderCA.current()!.version).to.equal(before);
      cm.listError = undefined;
      await until(() => s.status().every((x) => x.lastError === undefined), 'the error cleared');
    });

    it('a ConfigMap missing at startup is picked up when it appears', async () => {
      cm.data = undefined;
      const s = source();
      await s.runOnce();
      s.start();
      await until(() => cm.watchers.length === 1, 'the watch');
      expect(s.requestHeaderCA.current()).to.equal(undefined);
      cm.modify(fullData(), 'ADDED');
      await until(() => s.requestHeaderCA.current() !== undefined, 'the ConfigMap to load');
      expect(s.clientCA.current()?.version).to.equal(1);
      expect(s.status().every((x) => x.loaded && x.lastError === undefined)).to.equal(true);
    });

    it('a throwing listener does not stop other listeners or later updates', async () => {
      const s = await started();
      let calls = 0;
      s.requestHeaderCA.addListener(() => {
        throw new Error('listener bug');
      });
      s.requestHeaderCA.addListener(() => calls++);
      cm.modify(fullData({ 'requestheader-client-ca-file': pki.otherCA.certPem }));
      await until(() => calls === 1, 'the second listener');
      cm.modify(fullData());
      await until(() => calls === 2, 'the next update');
      expect(s.requestHeaderCA.current()?.version).to.equal(3);
    });

    it('close() ends the watch and is idempotent', async () => {
      const s = await started();
      await s.close();
      await s.close();
      await until(() => cm.watchers.length === 0, 'the watch to close');
      await s.runOnce().then(
        () => expect.fail('runOnce after close'),
        (e: unknown) => expect((e as KdaError).code).to.equal('ERR_KDA_CLOSED'),
      );
    });
  });
});
