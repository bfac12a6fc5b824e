import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { expect } from 'chai';
import type { Middleware } from 'koa';
import { Agent, request } from 'undici';
import { Decision, type RequestAttributes } from '../../../lib/authz/interfaces.js';
import { authenticate } from '../../../lib/koa/authenticate.js';
import { authorize } from '../../../lib/koa/authorize.js';
import { requestInfo } from '../../../lib/koa/request-info.js';
import { writeDevPki } from '../../../lib/dev-pki/dev-pki.js';
import { createSampleApp } from '../../../examples/sample-apiserver/app.js';
import { WidgetStore } from '../../../examples/sample-apiserver/widget-store.js';
import { createSecureServer, type SecureServer } from '../../../lib/server/secure-server.js';
import { staticCABundle } from '../../../lib/trust/static.js';

// The sample behind the real Koa pipeline (requestInfo → authenticate → authorize) on real TLS with client
// certificates. The authorizer is an in-process policy (a real Authorizer, standing where the SubjectAccessReview
// webhook stands in a cluster) that records what it was asked, so each spec can compare what was authorized with
// what was served.

const group = 'sample.kube-delegated-auth.io';
const gv = `/apis/${group}/v1alpha1`;
const shop = `${gv}/namespaces/shop/widgets`;

interface WatchEvent {
  type: string;
  object: { kind: string; metadata: { name: string; namespace: string; resourceVersion?: string }; code?: number };
}

/** A watch response read line by line. */
class WatchStream {
  readonly #lines: string[] = [];
  #waiters: (() => void)[] = [];
  #ended = false;
  readonly status: number;
  readonly type: string;
  readonly body: Readable;
  constructor(status: number, type: string, body: Readable) {
    this.status = status;
    this.type = type;
    this.body = body;
    void this.#pump();
  }
  async #pump() {
    let buf = '';
    try {
      for await (const chunk of this.body) {
        buf += (chunk as Buffer).toString('utf8');
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          this.#lines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
          this.#wake();
        }
      }
    } catch {
      // destroyed by close()
    }
    if (buf !== '') this.#lines.push(buf);
    this.#ended = true;
    this.#wake();
  }
  #wake() {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
  /** The next event, or undefined once the server ended the stream. */
  async next(): Promise<WatchEvent | undefined> {
    while (this.#lines.length === 0 && !this.#ended) await new Promise<void>((r) => this.#waiters.push(r));
    const line = this.#lines.shift();
    return line === undefined ? undefined : (JSON.parse(line) as WatchEvent);
  }
  /** Every remaining event until the server ends the stream. */
  async rest(): Promise<WatchEvent[]> {
    const out: WatchEvent[] = [];
    for (let e = await this.next(); e; e = await this.next()) out.push(e);
    return out;
  }
  close() {
    this.body.destroy();
  }
}

interface Sample {
  store: WidgetStore;
  authorized: RequestAttributes[];
  call(c: Call): Promise<Reply>;
  watch(path: string, user?: string, accept?: string): Promise<WatchStream>;
  close(): Promise<void>;
}
interface Call {
  method?: string;
  path: string;
  body?: unknown;
  user?: string;
  contentType?: string;
  accept?: string;
}
interface Reply {
  status: number;
  body: string;
  type: string;
  /** Every `Warning` header value. */
  warnings: string[];
  json: () => Record<string, unknown>;
}

/**
 * Policy: alice may do anything; bob may get, list and watch widgets in namespace `shop` only when the request names
 * `public` (a name in the path, or `fieldSelector=metadata.name=public`); non-resource paths are open.
 */
async function startSample(dir: string, store = new WidgetStore()): Promise<Sample> {
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  const clientCA = staticCABundle(read('client-ca.crt'), 'client-ca');
  const authorized: RequestAttributes[] = [];
  const authorizer = {
    authorize(attrs: RequestAttributes) {
      authorized.push(attrs);
      const allow =
        !attrs.resourceRequest ||
        attrs.user.name === 'alice' ||
        (attrs.user.name === 'bob' &&
          ['get', 'list', 'watch'].includes(attrs.verb) &&
          attrs.resource === 'widgets' &&
          attrs.namespace === 'shop' &&
          attrs.name === 'public');
      return Promise.resolve({ decision: allow ? Decision.Allow : Decision.NoOpinion, reason: '' });
    },
  };
  const app = createSampleApp({
    pipeline: [requestInfo(), authenticate({ clientCA }), authorize({ authorizer })] as Middleware[],
    store,
  });
  const server: SecureServer = createSecureServer({
    handler: app.callback(),
    tlsCertFile: join(dir, 'serving.crt'),
    tlsPrivateKeyFile: join(dir, 'serving.key'),
    clientCA,
    bindAddress: '127.0.0.1',
    securePort: 0,
  });
  await server.listen();
  const agents = new Map<string, Agent>();
  const agent = (user: string) => {
    let a = agents.get(user);
    if (!a) {
      a = new Agent({
        connect: {
          ca: read('serving-ca.crt'),
          servername: 'localhost',
          cert: read(`${user}.crt`),
          key: read(`${user}.key`),
        },
      });
      agents.set(user, a);
    }
    return a;
  };
  const send = (c: Call) =>
    request(`https://127.0.0.1:${server.port}${c.path}`, {
      method: (c.method ?? 'GET') as 'GET',
      dispatcher: agent(c.user ?? 'alice'),
      headers: {
        ...(c.body !== undefined ? { 'content-type': c.contentType ?? 'application/json' } : {}),
        ...(c.accept ? { accept: c.accept } : {}),
      },
      ...(c.body !== undefined ? { body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body) } : {}),
    });
  return {
    store,
    authorized,
    async call(c) {
      const res = await send(c);
      const body = await res.body.text();
      return {
        status: res.statusCode,
        body,
        type: String(res.headers['content-type'] ?? ''),
        warnings: [res.headers.warning ?? []].flat(),
        json: () => JSON.parse(body) as Record<string, unknown>,
      };
    },
    async watch(path, user, accept) {
      const res = await send({ path, ...(user ? { user } : {}), ...(accept ? { accept } : {}) });
      return new WatchStream(res.statusCode, String(res.headers['content-type'] ?? ''), res.body);
    },
    async close() {
      store.closeWatches();
      await Promise.all([...agents.values()].map((a) => a.close()));
      await server.close();
    },
  };
}

const names = (r: Reply) =>
  (r.json().items as { metadata: { namespace: string; name: string } }[]).map(
    (i) => `${i.metadata.namespace}/${i.metadata.name}`,
  );

/** Resolves once `condition` holds, checking after each turn of the event loop (no fixed sleep). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

describe('sample widgets: what is served is what was authorized (real TLS, real Koa pipeline)', function () {
  this.timeout(30_000);
  let dir: string;
  let s: Sample;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kda-sample-widgets-'));
    writeDevPki(dir);
    s = await startSample(dir);
    const seed = [
      { ns: 'shop', name: 'public', labels: { app: 'web', tier: 'front', size: '3' } },
      { ns: 'shop', name: 'secret', labels: { app: 'db', size: '10' } },
      { ns: 'shop', name: 'internal', labels: { tier: 'back' } },
      { ns: 'other', name: 'public', labels: { app: 'web' } },
    ];
    for (const w of seed) {
      const r = await s.call({
        method: 'POST',
        path: `${gv}/namespaces/${w.ns}/widgets`,
        body: { metadata: { name: w.name, labels: w.labels } },
      });
      expect(r.status, r.body).to.equal(201);
    }
  });
  after(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => (s.authorized.length = 0));

  describe('label and field selectors are honoured', () => {
    const cases: readonly { query: string; path?: string; expected: string[] }[] = [
      { query: 'labelSelector=app%3Dweb', expected: ['shop/public'] },
      { query: 'labelSelector=app%3D%3Dweb', expected: ['shop/public'] },
      { query: 'labelSelector=app!%3Dweb', expected: ['shop/internal', 'shop/secret'] },
      { query: 'labelSelector=app+in+(web,db)', expected: ['shop/public', 'shop/secret'] },
      { query: 'labelSelector=app+notin+(web)', expected: ['shop/internal', 'shop/secret'] },
      { query: 'labelSelector=tier', expected: ['shop/internal', 'shop/public'] },
      { query: 'labelSelector=!tier', expected: ['shop/secret'] },
      { query: 'labelSelector=tier,app%3Dweb', expected: ['shop/public'] },
      { query: 'labelSelector=size>5', expected: ['shop/secret'] },
      { query: 'labelSelector=size<5', expected: ['shop/public'] },
      { query: 'labelSelector=app%3Dnope', expected: [] },
      { query: 'fieldSelector=metadata.name%3Dpublic', expected: ['shop/public'] },
      { query: 'fieldSelector=metadata.name%3D%3Dsecret', expected: ['shop/secret'] },
      { query: 'fieldSelector=metadata.name!%3Dpublic', expected: ['shop/internal', 'shop/secret'] },
      { query: 'fieldSelector=metadata.name%3Dpublic,metadata.name!%3Dpublic', expected: [] },
      { query: 'fieldSelector=metadata.name%3Dpublic&labelSelector=app%3Ddb', expected: [] },
      {
        path: `${gv}/widgets`,
        query: 'fieldSelector=metadata.namespace%3Dother',
        expected: ['other/public'],
      },
      {
        path: `${gv}/widgets`,
        query: 'fieldSelector=metadata.namespace!%3Dshop,metadata.name%3Dpublic',
        expected: ['other/public'],
      },
      { path: `${gv}/widgets`, query: 'labelSelector=app%3Dweb', expected: ['other/public', 'shop/public'] },
      // The first of repeated parameters counts, on both sides (Go's url.Values and the parameter codec).
      { query: 'labelSelector=app%3Ddb&labelSelector=app%3Dweb', expected: ['shop/secret'] },
    ];
    for (const c of cases) {
      it(`${c.path ?? 'shop'}?${c.query} → ${c.expected.join(', ') || 'nothing'}`, async () => {
        const r = await s.call({ path: `${c.path ?? shop}?${c.query}` });
        expect(r.status, r.body).to.equal(200);
        expect(names(r)).to.deep.equal(c.expected);
      });
    }

    const refused: readonly { query: string; message: string }[] = [
      {
        query: 'fieldSelector=spec.color%3Dred',
        message: '"spec.color" is not a known field selector: only "metadata.name", "metadata.namespace"',
      },
      {
        query: 'fieldSelector=metadata.labels%3Dx',
        message: '"metadata.labels" is not a known field selector: only "metadata.name", "metadata.namespace"',
      },
      {
        query: 'fieldSelector=metadata.name',
        message: "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
      },
      {
        query: 'labelSelector=app+in+(',
        message: "unable to parse requirement: found '', expected: ',', ')' or identifier",
      },
      {
        query: 'labelSelector=Bad%20Key%3Dx',
        message: "unable to parse requirement: found 'Key', expected: in, notin, =, ==, !=, gt, lt",
      },
      { query: 'limit=ten', message: 'strconv.ParseInt: parsing "ten": invalid syntax' },
      { query: 'watch=true&timeoutSeconds=soon', message: 'strconv.ParseInt: parsing "soon": invalid syntax' },
    ];
    for (const c of refused) {
      it(`refuses ?${c.query} with 400 BadRequest (never an unfiltered list)`, async () => {
        const r = await s.call({ path: `${shop}?${c.query}` });
        expect(r.status, r.body).to.equal(400);
        expect(r.json()).to.deep.equal({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: c.message,
          reason: 'BadRequest',
          code: 400,
        });
      });
    }
  });

  describe('a user allowed only `public` gets only `public`', () => {
    it('list with fieldSelector=metadata.name=public: authorized for that name, served only it', async () => {
      const r = await s.call({ path: `${shop}?fieldSelector=metadata.name%3Dpublic`, user: 'bob' });
      expect(r.status, r.body).to.equal(200);
      expect(names(r)).to.deep.equal(['shop/public']);
      expect(s.authorized.map((a) => [a.verb, a.name])).to.deep.equal([['list', 'public']]);
    });

    it('list without a selector → 403', async () => {
      const r = await s.call({ path: shop, user: 'bob' });
      expect(r.status).to.equal(403);
    });

    const widening: readonly { name: string; query: string; status: number; served?: string[]; path?: string }[] = [
      {
        name: 'a second fieldSelector naming secret (the first counts on both sides)',
        query: 'fieldSelector=metadata.name%3Dpublic&fieldSelector=metadata.name%3Dsecret',
        status: 200,
        served: ['shop/public'],
      },
      {
        name: 'a `;` in the query (Go drops the pair, Node keeps it) → 400 before authorization',
        query: 'fieldSelector=metadata.name%3Dpublic;x',
        status: 400,
      },
      {
        name: 'an undecodable list option (RequestInfo then drops the name) → refused, not served wider',
        query: 'fieldSelector=metadata.name%3Dpublic&limit=x',
        status: 403,
      },
      {
        name: 'an invalid labelSelector alongside → refused',
        query: 'fieldSelector=metadata.name%3Dpublic&labelSelector=in+(',
        status: 403,
      },
      {
        name: 'name=public OR-ed with a != term is still AND-ed: only public',
        query: 'fieldSelector=metadata.name%3Dpublic,metadata.name!%3Dsecret',
        status: 200,
        served: ['shop/public'],
      },
      {
        name: 'an escaped comma names one widget "public,secret", not two',
        query: 'fieldSelector=metadata.name%3Dpublic%5C,secret',
        status: 403,
      },
      {
        name: 'the cluster-wide list is another namespace scope',
        query: 'fieldSelector=metadata.name%3Dpublic',
        path: `${gv}/widgets`,
        status: 403,
      },
    ];
    for (const c of widening) {
      it(`hostile: ${c.name}`, async () => {
        const r = await s.call({ path: `${c.path ?? shop}?${c.query}`, user: 'bob' });
        expect(r.status, r.body).to.equal(c.status);
        if (c.served) expect(names(r)).to.deep.equal(c.served);
      });
    }

    it('watch with fieldSelector=metadata.name=public: only public events, never secret', async () => {
      const w = await s.watch(`${shop}?watch=true&fieldSelector=metadata.name%3Dpublic`, 'bob');
      try {
        expect(w.status).to.equal(200);
        expect(s.authorized.map((a) => [a.verb, a.name])).to.deep.equal([['watch', 'public']]);
        const first = await w.next();
        expect([first?.type, first?.object.metadata.name]).to.deep.equal(['ADDED', 'public']);
        const touch = (name: string, v: string) =>
          s.call({
            method: 'PATCH',
            path: `${shop}/${name}`,
            contentType: 'application/merge-patch+json',
            body: { metadata: { annotations: { touched: v } } },
          });
        expect((await touch('secret', '1')).status).to.equal(200);
        expect((await touch('public', '2')).status).to.equal(200);
        const next = await w.next();
        expect([next?.type, next?.object.metadata.name]).to.deep.equal(['MODIFIED', 'public']);
      } finally {
        w.close();
      }
    });
  });

  describe('watch: served exactly when RequestInfo says watch', () => {
    const verbs: readonly { query: string; verb: 'watch' | 'list' }[] = [
      { query: 'watch=true', verb: 'watch' },
      { query: 'watch=yes', verb: 'watch' },
      { query: 'watch=1', verb: 'watch' },
      { query: 'watch=', verb: 'watch' },
      { query: 'watch', verb: 'watch' },
      { query: 'watch=true&watch=false', verb: 'watch' },
      { query: 'watch=false&watch=true', verb: 'list' },
      { query: 'watch=0', verb: 'list' },
      { query: 'watch=FALSE', verb: 'list' },
      { query: 'watch=false', verb: 'list' },
      { query: 'wat%63h=1', verb: 'watch' },
    ];
    for (const c of verbs) {
      it(`?${c.query} is authorized and served as ${c.verb}`, async () => {
        const path = `${shop}?${c.query}&timeoutSeconds=1`;
        if (c.verb === 'watch') {
          const w = await s.watch(path);
          const events = [await w.next(), await w.next(), await w.next()];
          w.close();
          expect(w.status).to.equal(200);
          expect(w.type).to.equal('application/json');
          expect(events.map((e) => e?.type)).to.deep.equal(['ADDED', 'ADDED', 'ADDED']);
        } else {
          const r = await s.call({ path });
          expect(r.status).to.equal(200);
          expect(r.json().kind).to.equal('WidgetList');
        }
        expect(s.authorized.map((a) => a.verb)).to.deep.equal([c.verb]);
      });
    }

    it('legacy /watch/ paths: the collection, and one name (path name narrows what is served)', async () => {
      const all = await s.watch(`${gv}/watch/namespaces/shop/widgets?timeoutSeconds=1`);
      expect((await all.rest()).map((e) => e.object.metadata.name)).to.deep.equal(['internal', 'public', 'secret']);
      const one = await s.watch(`${gv}/watch/namespaces/shop/widgets/public?timeoutSeconds=1`, 'bob');
      expect(one.status).to.equal(200);
      expect((await one.rest()).map((e) => e.object.metadata.name)).to.deep.equal(['public']);
      expect(s.authorized.map((a) => [a.verb, a.name])).to.deep.equal([
        ['watch', ''],
        ['watch', 'public'],
      ]);
    });

    it('POST to a /watch/ path and HEAD with watch=true → 405 (no stream)', async () => {
      const post = await s.call({ method: 'POST', path: `${gv}/watch/namespaces/shop/widgets`, body: {} });
      expect(post.status).to.equal(405);
      const head = await s.call({ method: 'HEAD', path: `${shop}?watch=true` });
      expect(head.status).to.equal(405);
    });

    it('a watch-list request (sendInitialEvents) → 422 ListOptions, no stream (client-go falls back to list+watch)', async () => {
      const r = await s.call({ path: `${shop}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan` });
      expect(r.status, r.body).to.equal(422);
      expect(r.json()).to.deep.include({
        message:
          'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
        reason: 'Invalid',
      });
    });

    it('a get by name ignores watch (Go serves get)', async () => {
      const r = await s.call({ path: `${shop}/public?watch=true` });
      expect(r.status).to.equal(200);
      expect(r.json()).to.include({ kind: 'Widget' });
      expect(s.authorized.map((a) => a.verb)).to.deep.equal(['get']);
    });

    it('initial ADDED, then live ADDED/MODIFIED/DELETED with increasing resourceVersions', async () => {
      const w = await s.watch(`${gv}/namespaces/live/widgets?watch=1`);
      try {
        const created = await s.call({
          method: 'POST',
          path: `${gv}/namespaces/live/widgets`,
          body: { metadata: { name: 'a' } },
        });
        expect(created.status).to.equal(201);
        const updated = await s.call({
          method: 'PUT',
          path: `${gv}/namespaces/live/widgets/a`,
          body: { metadata: { name: 'a' }, spec: { color: 'blue' } },
        });
        expect(updated.status, updated.body).to.equal(200);
        expect((await s.call({ method: 'DELETE', path: `${gv}/namespaces/live/widgets/a` })).status).to.equal(200);
        const events = [await w.next(), await w.next(), await w.next()];
        expect(events.map((e) => e?.type)).to.deep.equal(['ADDED', 'MODIFIED', 'DELETED']);
        const rvs = events.map((e) => Number(e?.object.metadata.resourceVersion));
        expect(rvs[1]).to.be.greaterThan(rvs[0]!);
        expect(rvs[2]).to.be.greaterThan(rvs[1]!);
      } finally {
        w.close();
      }
    });

    it('with the resourceVersion of a list: no initial events, only what changed since', async () => {
      const list = await s.call({ path: shop });
      const rv = (list.json().metadata as { resourceVersion: string }).resourceVersion;
      const w = await s.watch(`${shop}?watch=true&resourceVersion=${rv}`);
      try {
        const made = await s.call({ method: 'POST', path: shop, body: { metadata: { name: 'since' } } });
        expect(made.status).to.equal(201);
        const e = await w.next();
        expect([e?.type, e?.object.metadata.name]).to.deep.equal(['ADDED', 'since']);
      } finally {
        w.close();
        await s.call({ method: 'DELETE', path: `${shop}/since` });
      }
    });

    it('ends on client close: the store forgets the watcher', async () => {
      const before = s.store.watchCount;
      const w = await s.watch(`${shop}?watch=true`);
      await w.next();
      expect(s.store.watchCount).to.equal(before + 1);
      w.close();
      await until(() => s.store.watchCount === before);
      expect(s.store.watchCount).to.equal(before);
    });

    it('closeWatches() (shutdown) ends open streams cleanly', async () => {
      const store = new WidgetStore();
      const other = await startSample(dir, store);
      try {
        const w = await other.watch(`${shop}?watch=true`);
        store.closeWatches();
        expect(await w.rest()).to.deep.equal([]);
        expect(store.watchCount).to.equal(0);
      } finally {
        await other.close();
      }
    });

    it('a resourceVersion older than the history → ERROR event with 410 Expired', async () => {
      const store = new WidgetStore();
      for (let i = 0; i < 1002; i++) store.create('bulk', { metadata: { name: `w${i}` } });
      const other = await startSample(dir, store);
      try {
        const w = await other.watch(`${gv}/namespaces/bulk/widgets?watch=true&resourceVersion=1`);
        const events = await w.rest();
        expect(events).to.have.length(1);
        expect(events[0]!.type).to.equal('ERROR');
        expect(events[0]!.object).to.include({ kind: 'Status', reason: 'Expired', code: 410 });
      } finally {
        await other.close();
      }
    });
  });

  describe('dryRun', () => {
    it('create ?dryRun=All answers the object, stores nothing, tells no watcher', async () => {
      const w = await s.watch(`${gv}/namespaces/dry/widgets?watch=true`);
      try {
        const r = await s.call({
          method: 'POST',
          path: `${gv}/namespaces/dry/widgets?dryRun=All`,
          body: { metadata: { name: 'ghost' } },
        });
        expect(r.status, r.body).to.equal(201);
        expect(r.json().metadata).to.include({ name: 'ghost', namespace: 'dry' });
        expect(r.json().metadata).to.not.have.property('resourceVersion');
        expect((await s.call({ path: `${gv}/namespaces/dry/widgets/ghost` })).status).to.equal(404);
        const real = await s.call({
          method: 'POST',
          path: `${gv}/namespaces/dry/widgets`,
          body: { metadata: { name: 'real' } },
        });
        expect(real.status).to.equal(201);
        const e = await w.next();
        expect([e?.type, e?.object.metadata.name]).to.deep.equal(['ADDED', 'real']);
      } finally {
        w.close();
      }
    });

    it('delete ?dryRun=All answers Success and keeps the object', async () => {
      const r = await s.call({ method: 'DELETE', path: `${shop}/internal?dryRun=All` });
      expect(r.status).to.equal(200);
      expect(r.json()).to.include({ kind: 'Status', status: 'Success' });
      expect((await s.call({ path: `${shop}/internal` })).status).to.equal(200);
    });

    it('delete with DeleteOptions in the body (what kubectl --dry-run=server sends) keeps the object', async () => {
      const r = await s.call({
        method: 'DELETE',
        path: `${shop}/internal`,
        body: { kind: 'DeleteOptions', apiVersion: 'v1', dryRun: ['All'], propagationPolicy: 'Background' },
      });
      expect(r.status, r.body).to.equal(200);
      expect((await s.call({ path: `${shop}/internal` })).status).to.equal(200);
    });

    it('hostile: ?dryRun=All with an empty DeleteOptions body is still a dry run', async () => {
      const r = await s.call({ method: 'DELETE', path: `${shop}/internal?dryRun=All`, body: {} });
      expect(r.status, r.body).to.equal(200);
      expect((await s.call({ path: `${shop}/internal` })).status).to.equal(200);
    });

    const badBodies: readonly { name: string; body: unknown; status: number; reason: string }[] = [
      { name: 'dryRun ["all"] in the body → 422', body: { dryRun: ['all'] }, status: 422, reason: 'Invalid' },
      { name: 'dryRun "All" (not a list) → 400', body: { dryRun: 'All' }, status: 400, reason: 'BadRequest' },
      { name: 'another kind than DeleteOptions → 400', body: { kind: 'Widget' }, status: 400, reason: 'BadRequest' },
      {
        name: 'a uid precondition that does not match → 409 Conflict',
        body: { preconditions: { uid: 'not-the-uid' } },
        status: 409,
        reason: 'Conflict',
      },
      {
        name: 'a resourceVersion precondition that does not match → 409 Conflict',
        body: { preconditions: { resourceVersion: '1' } },
        status: 409,
        reason: 'Conflict',
      },
    ];
    for (const c of badBodies) {
      it(`delete body: ${c.name}, nothing deleted`, async () => {
        const r = await s.call({ method: 'DELETE', path: `${shop}/internal`, body: c.body });
        expect(r.status, r.body).to.equal(c.status);
        expect(r.json()).to.include({ reason: c.reason });
        expect((await s.call({ path: `${shop}/internal` })).status).to.equal(200);
      });
    }

    it('update and patch ?dryRun=All answer the new object and keep the stored one', async () => {
      const put = await s.call({
        method: 'PUT',
        path: `${shop}/internal?dryRun=All`,
        body: { metadata: { name: 'internal' }, spec: { color: 'green' } },
      });
      expect(put.status, put.body).to.equal(200);
      expect(put.json().spec).to.deep.equal({ color: 'green' });
      const patch = await s.call({
        method: 'PATCH',
        path: `${shop}/internal?dryRun=All`,
        contentType: 'application/merge-patch+json',
        body: { spec: { color: 'pink' } },
      });
      expect(patch.status, patch.body).to.equal(200);
      expect(patch.json().spec).to.deep.equal({ color: 'pink' });
      expect((await s.call({ path: `${shop}/internal` })).json().spec).to.deep.equal({});
    });

    const invalid: readonly {
      method: string;
      path: string;
      kind: string;
      query: string;
      shown: string;
      body?: unknown;
    }[] = [
      {
        method: 'POST',
        path: shop,
        kind: 'CreateOptions',
        query: 'dryRun=all',
        shown: '"all"',
        body: { metadata: { name: 'lower' } },
      },
      {
        method: 'POST',
        path: shop,
        kind: 'CreateOptions',
        query: 'dryRun=All&dryRun=x',
        shown: '"All", "x"',
        body: { metadata: { name: 'lower' } },
      },
      {
        method: 'POST',
        path: shop,
        kind: 'CreateOptions',
        query: 'dryRun=',
        shown: '""',
        body: { metadata: { name: 'lower' } },
      },
      { method: 'DELETE', path: `${shop}/secret`, kind: 'DeleteOptions', query: 'dryRun=true', shown: '"true"' },
      {
        method: 'PUT',
        path: `${shop}/secret`,
        kind: 'UpdateOptions',
        query: 'dryRun=ALL',
        shown: '"ALL"',
        body: { metadata: { name: 'secret' }, spec: { x: 1 } },
      },
    ];
    for (const c of invalid) {
      it(`${c.method} ?${c.query} → 422 ${c.kind} (nothing written)`, async () => {
        const r = await s.call({ method: c.method, path: `${c.path}?${c.query}`, ...(c.body ? { body: c.body } : {}) });
        expect(r.status, r.body).to.equal(422);
        const message = `Unsupported value: []string{${c.shown}}: supported values: "All"`;
        expect(r.json()).to.deep.equal({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `${c.kind}.meta.k8s.io "" is invalid: dryRun: ${message}`,
          reason: 'Invalid',
          details: {
            group: 'meta.k8s.io',
            kind: c.kind,
            causes: [{ reason: 'FieldValueNotSupported', message, field: 'dryRun' }],
          },
          code: 422,
        });
        expect((await s.call({ path: `${shop}/lower` })).status).to.equal(404);
        const secret = await s.call({ path: `${shop}/secret` });
        expect(secret.status).to.equal(200);
        expect(secret.json().spec).to.deep.equal({});
      });
    }

    it('a dry-run create of an existing name is still 409, and an invalid one still 422', async () => {
      expect(
        (await s.call({ method: 'POST', path: `${shop}?dryRun=All`, body: { metadata: { name: 'public' } } })).status,
      ).to.equal(409);
      expect(
        (await s.call({ method: 'POST', path: `${shop}?dryRun=All`, body: { metadata: { name: 'UP' } } })).status,
      ).to.equal(422);
    });
  });

  describe('Status errors as Go writes them', () => {
    it('422 carries details.causes (field, reason, message) for every field error', async () => {
      const r = await s.call({
        method: 'POST',
        path: shop,
        body: { metadata: { name: 'Bad_Name', labels: { 'a b': 'c' } } },
      });
      expect(r.status).to.equal(422);
      const body = r.json() as {
        message: string;
        details: { name: string; group: string; kind: string; causes: unknown[] };
      };
      expect(body.message).to.match(
        /^Widget\.sample\.kube-delegated-auth\.io "Bad_Name" is invalid: \[metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain .*, metadata\.labels: Invalid value: "a b": name part must/,
      );
      expect(body.details).to.deep.include({ name: 'Bad_Name', group, kind: 'Widget' });
      expect(body.details.causes).to.have.length(2);
      expect(body.details.causes[0]).to.deep.include({ reason: 'FieldValueInvalid', field: 'metadata.name' });
      expect(body.details.causes[1]).to.deep.include({ reason: 'FieldValueInvalid', field: 'metadata.labels' });
    });

    it('409 AlreadyExists and 404 NotFound bodies are byte-for-byte what Go writes', async () => {
      const dup = await s.call({ method: 'POST', path: shop, body: { metadata: { name: 'public' } } });
      expect(dup.status).to.equal(409);
      expect(dup.body).to.equal(
        `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"widgets.${group} \\"public\\" already exists","reason":"AlreadyExists","details":{"name":"public","group":"${group}","kind":"widgets"},"code":409}\n`,
      );
      const missing = await s.call({ path: `${shop}/nope` });
      expect(missing.status).to.equal(404);
      expect(missing.body).to.equal(
        `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"widgets.${group} \\"nope\\" not found","reason":"NotFound","details":{"name":"nope","group":"${group}","kind":"widgets"},"code":404}\n`,
      );
    });

    it('a missing name is a Required cause', async () => {
      const r = await s.call({ method: 'POST', path: shop, body: { spec: {} } });
      expect(r.json()).to.deep.equal({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message:
          'Widget.sample.kube-delegated-auth.io "" is invalid: metadata.name: Required value: name or generateName is required',
        reason: 'Invalid',
        details: {
          group,
          kind: 'Widget',
          causes: [
            {
              reason: 'FieldValueRequired',
              message: 'Required value: name or generateName is required',
              field: 'metadata.name',
            },
          ],
        },
        code: 422,
      });
    });

    it('an invalid namespace in the path is a metadata.namespace cause', async () => {
      const r = await s.call({
        method: 'POST',
        path: `${gv}/namespaces/Upper/widgets`,
        body: { metadata: { name: 'x' } },
      });
      expect(r.status).to.equal(422);
      expect((r.json().details as { causes: { field: string }[] }).causes.map((c) => c.field)).to.deep.equal([
        'metadata.namespace',
      ]);
    });

    it('update with a stale resourceVersion → 409 Conflict', async () => {
      const r = await s.call({
        method: 'PUT',
        path: `${shop}/secret`,
        body: { metadata: { name: 'secret', resourceVersion: '1' } },
      });
      expect(r.status).to.equal(409);
      expect(r.json()).to.include({
        reason: 'Conflict',
        message: `Operation cannot be fulfilled on widgets.${group} "secret": the object has been modified; please apply your changes to the latest version and try again`,
      });
    });

    it('update/patch of a missing widget → 404 NotFound; a renaming update → 400', async () => {
      expect(
        (await s.call({ method: 'PUT', path: `${shop}/nope`, body: { metadata: { name: 'nope' } } })).status,
      ).to.equal(404);
      const rename = await s.call({ method: 'PUT', path: `${shop}/secret`, body: { metadata: { name: 'other' } } });
      expect(rename.status).to.equal(400);
      expect(rename.json().message).to.equal(
        'the name of the object (other) does not match the name on the URL (secret)',
      );
      const patch = await s.call({
        method: 'PATCH',
        path: `${shop}/secret`,
        contentType: 'application/merge-patch+json',
        body: { metadata: { name: 'other' } },
      });
      expect(patch.status).to.equal(400);
    });

    it('a body nested deeper than 1000 levels → 400 (never a stack overflow and a 500)', async () => {
      const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
      const create = await s.call({
        method: 'POST',
        path: shop,
        body: `{"metadata":{"name":"deep"},"spec":${deep(20_000)}}`,
      });
      expect(create.status, create.body.slice(0, 200)).to.equal(400);
      expect(create.json().message).to.equal('the request body nests deeper than 1000 levels');
      const patch = await s.call({
        method: 'PATCH',
        path: `${shop}/secret`,
        contentType: 'application/merge-patch+json',
        body: `{"spec":${deep(20_000)}}`,
      });
      expect(patch.status).to.equal(400);
      // Brackets inside strings do not count.
      const brackets = await s.call({
        method: 'POST',
        path: `${shop}?dryRun=All`,
        body: { metadata: { name: 'brackets' }, spec: { text: '{['.repeat(5000) } },
      });
      expect(brackets.status, brackets.body.slice(0, 200)).to.equal(201);
    });

    it('strategic merge patch → 415 naming the accepted types (Go for custom resources); a merge patch with __proto__ stays data', async () => {
      const strategic = await s.call({
        method: 'PATCH',
        path: `${shop}/secret`,
        contentType: 'application/strategic-merge-patch+json',
        body: { spec: { x: 1 } },
      });
      expect(strategic.status).to.equal(415);
      expect(strategic.json().message).to.equal(
        'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
      );
      expect(s.store.get('shop', 'secret')?.spec).to.not.have.property('x');
      const proto = await s.call({
        method: 'PATCH',
        path: `${shop}/secret?dryRun=All`,
        contentType: 'application/merge-patch+json',
        body: '{"spec":{"__proto__":{"polluted":true}}}',
      });
      expect(proto.status, proto.body).to.equal(200);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });
  });

  describe('update and patch, as kubectl sends them (each served only under the verb authorized)', () => {
    const paint = `${gv}/namespaces/paint/widgets`;
    const make = async (name: string, spec: Record<string, unknown> = { color: 'red', size: 1 }) => {
      const r = await s.call({ method: 'POST', path: paint, body: { metadata: { name, labels: { a: 'b' } }, spec } });
      expect(r.status, r.body).to.equal(201);
      return r.json() as { metadata: Record<string, string> };
    };
    const verbs = () => s.authorized.filter((a) => a.resource === 'widgets').map((a) => a.verb);

    it('PUT replaces labels and spec, keeps uid and creationTimestamp, advances resourceVersion (verb update)', async () => {
      const before = await make('put-me');
      s.authorized.length = 0;
      const r = await s.call({
        method: 'PUT',
        path: `${paint}/put-me`,
        body: { metadata: { name: 'put-me', labels: { c: 'd' }, uid: 'forged' }, spec: { color: 'blue' } },
      });
      expect(r.status, r.body).to.equal(200);
      const w = r.json() as { metadata: Record<string, unknown>; spec: unknown };
      expect(w.spec).to.deep.equal({ color: 'blue' });
      expect(w.metadata.labels).to.deep.equal({ c: 'd' });
      expect(w.metadata.uid).to.equal(before.metadata.uid);
      expect(w.metadata.creationTimestamp).to.equal(before.metadata.creationTimestamp);
      expect(Number(w.metadata.resourceVersion)).to.be.greaterThan(Number(before.metadata.resourceVersion));
      expect(verbs()).to.deep.equal(['update']);
    });

    it('merge patch adds a label and keeps the rest (verb patch)', async () => {
      await make('label-me');
      s.authorized.length = 0;
      const r = await s.call({
        method: 'PATCH',
        path: `${paint}/label-me`,
        contentType: 'application/merge-patch+json',
        body: { metadata: { labels: { tier: 'gold' } } },
      });
      expect(r.status, r.body).to.equal(200);
      expect(s.store.get('paint', 'label-me')?.metadata.labels).to.deep.equal({ a: 'b', tier: 'gold' });
      expect(s.store.get('paint', 'label-me')?.spec).to.deep.equal({ color: 'red', size: 1 });
      expect(verbs()).to.deep.equal(['patch']);
    });

    it('JSON patch: add, replace, remove and a passing test apply in order', async () => {
      await make('json-me');
      const r = await s.call({
        method: 'PATCH',
        path: `${paint}/json-me`,
        contentType: 'application/json-patch+json',
        body: [
          { op: 'test', path: '/spec/color', value: 'red' },
          { op: 'replace', path: '/spec/color', value: 'green' },
          { op: 'add', path: '/spec/parts', value: ['a', 'c'] },
          { op: 'add', path: '/spec/parts/1', value: 'b' },
          { op: 'remove', path: '/spec/size' },
          { op: 'copy', from: '/spec/color', path: '/metadata/labels/shade' },
        ],
      });
      expect(r.status, r.body).to.equal(200);
      const w = s.store.get('paint', 'json-me')!;
      expect(w.spec).to.deep.equal({ color: 'green', parts: ['a', 'b', 'c'] });
      expect(w.metadata.labels).to.deep.equal({ a: 'b', shade: 'green' });
    });

    const unchanged: readonly { name: string; body: unknown; status: number; message: RegExp }[] = [
      {
        name: 'a failing test',
        body: [
          { op: 'replace', path: '/spec/color', value: 'x' },
          { op: 'test', path: '/spec/color', value: 'red' },
        ],
        status: 422,
        message: /testing value \/spec\/color failed/,
      },
      {
        name: 'a replace of a missing path',
        body: [{ op: 'replace', path: '/spec/nope', value: 1 }],
        status: 422,
        message: /missing path \/spec\/nope/,
      },
      { name: 'an unknown op', body: [{ op: 'merge', path: '/spec' }], status: 400, message: /Unexpected kind: merge/ },
      { name: 'a pointer without /', body: [{ op: 'add', path: 'spec', value: 1 }], status: 400, message: /pointer/ },
      { name: 'an object, not a list', body: { op: 'add' }, status: 400, message: /must be a JSON array/ },
      {
        name: 'more than 10000 operations',
        body: Array.from({ length: 10001 }, () => ({ op: 'test', path: '/kind', value: 'Widget' })),
        status: 400,
        message: /maximum operations in a JSON patch is 10000, got 10001/,
      },
    ];
    for (const c of unchanged) {
      it(`JSON patch with ${c.name} → ${c.status}, nothing written`, async () => {
        await make(`bad-json-${unchanged.indexOf(c)}`);
        const name = `bad-json-${unchanged.indexOf(c)}`;
        const before = s.store.get('paint', name);
        const r = await s.call({
          method: 'PATCH',
          path: `${paint}/${name}`,
          contentType: 'application/json-patch+json',
          body: c.body,
        });
        expect(r.status, r.body).to.equal(c.status);
        expect(r.json().kind).to.equal('Status');
        expect(r.json().message).to.match(c.message);
        expect(s.store.get('paint', name)).to.equal(before);
      });
    }

    it('hostile: a JSON patch adding /spec/__proto__ stays data; one replacing uid does not change it', async () => {
      const before = await make('proto-json');
      const r = await s.call({
        method: 'PATCH',
        path: `${paint}/proto-json`,
        contentType: 'application/json-patch+json',
        body: [
          { op: 'add', path: '/spec/__proto__', value: { polluted: true } },
          { op: 'replace', path: '/metadata/uid', value: 'forged' },
        ],
      });
      expect(r.status, r.body).to.equal(200);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      const w = s.store.get('paint', 'proto-json')!;
      expect(Object.prototype.hasOwnProperty.call(w.spec, '__proto__')).to.equal(true);
      expect(w.metadata.uid).to.equal(before.metadata.uid);
    });

    it('stale resourceVersion → 409 Conflict for PUT, merge patch and JSON patch; nothing written', async () => {
      const first = await make('contended');
      await s.call({
        method: 'PATCH',
        path: `${paint}/contended`,
        contentType: 'application/merge-patch+json',
        body: { spec: { size: 2 } },
      });
      const current = s.store.get('paint', 'contended');
      const stale = first.metadata.resourceVersion;
      const attempts = [
        { method: 'PUT', body: { metadata: { name: 'contended', resourceVersion: stale }, spec: { size: 9 } } },
        {
          method: 'PATCH',
          contentType: 'application/merge-patch+json',
          body: { metadata: { resourceVersion: stale }, spec: { size: 9 } },
        },
        {
          method: 'PATCH',
          contentType: 'application/json-patch+json',
          body: [
            { op: 'replace', path: '/metadata/resourceVersion', value: stale },
            { op: 'replace', path: '/spec/size', value: 9 },
          ],
        },
      ];
      for (const a of attempts) {
        const r = await s.call({ path: `${paint}/contended`, ...a });
        expect(r.status, `${a.method} ${a.contentType ?? ''}: ${r.body}`).to.equal(409);
        expect(r.json().reason).to.equal('Conflict');
        expect(r.json().message).to.include('the object has been modified');
      }
      expect(s.store.get('paint', 'contended')).to.equal(current);
    });

    const invalidResults: readonly { name: string; patch: unknown; cause: string }[] = [
      {
        name: 'negative size',
        patch: { spec: { size: -1 } },
        cause: 'Invalid value: -1: spec.size in body should be greater than or equal to 0',
      },
      {
        name: 'fractional size',
        patch: { spec: { size: 1.5 } },
        cause: 'Invalid value: "number": spec.size in body must be of type integer: "number"',
      },
      {
        name: 'color not a string',
        patch: { spec: { color: 7 } },
        cause: 'Invalid value: "integer": spec.color in body must be of type string: "integer"',
      },
      { name: 'bad label value', patch: { metadata: { labels: { a: '-x-' } } }, cause: 'Invalid value: "-x-"' },
    ];
    for (const c of invalidResults) {
      it(`a patch whose result has ${c.name} → 422 with the cause, nothing written`, async () => {
        const name = `invalid-${invalidResults.indexOf(c)}`;
        await make(name);
        const before = s.store.get('paint', name);
        const r = await s.call({
          method: 'PATCH',
          path: `${paint}/${name}`,
          contentType: 'application/merge-patch+json',
          body: c.patch,
        });
        expect(r.status, r.body).to.equal(422);
        const causes = (r.json().details as { causes: { message: string }[] }).causes;
        expect(causes.map((x) => x.message).join('\n')).to.include(c.cause);
        expect(s.store.get('paint', name)).to.equal(before);
      });
    }

    it('server-side apply creates a missing widget (201, verb patch), then updates it (200)', async () => {
      s.authorized.length = 0;
      const config = (color: string) =>
        `apiVersion: ${group}/v1alpha1\nkind: Widget\nmetadata:\n  name: applied\n  labels:\n    via: ssa\nspec:\n  color: ${color}\n  size: 4\n`;
      const created = await s.call({
        method: 'PATCH',
        path: `${paint}/applied?fieldManager=tester`,
        contentType: 'application/apply-patch+yaml',
        body: config('red'),
      });
      expect(created.status, created.body).to.equal(201);
      expect(verbs()).to.deep.equal(['patch']);
      const updated = await s.call({
        method: 'PATCH',
        path: `${paint}/applied?fieldManager=tester`,
        contentType: 'application/apply-patch+yaml',
        body: config('navy'),
      });
      expect(updated.status, updated.body).to.equal(200);
      const w = s.store.get('paint', 'applied')!;
      expect(w.spec).to.deep.equal({ color: 'navy', size: 4 });
      expect(w.metadata.labels).to.deep.equal({ via: 'ssa' });
    });

    it('server-side apply removes what the same manager no longer applies, unless someone changed it since', async () => {
      const apply = (manager: string, body: string) =>
        s.call({
          method: 'PATCH',
          path: `${paint}/pruned?fieldManager=${manager}`,
          contentType: 'application/apply-patch+yaml',
          body: `apiVersion: ${group}/v1alpha1\nkind: Widget\n${body}`,
        });
      const first = await apply(
        'ci',
        'metadata:\n  labels: {a: "1", b: "2"}\nspec: {color: red, size: 3, shape: {sides: 4}}\n',
      );
      expect(first.status, first.body).to.equal(201);
      // Another writer changes size: it is theirs now.
      const other = await s.call({
        method: 'PATCH',
        path: `${paint}/pruned`,
        contentType: 'application/merge-patch+json',
        body: { spec: { size: 9 } },
      });
      expect(other.status, other.body).to.equal(200);
      // ci no longer applies label b, size or shape; another manager applies nothing about them.
      const second = await apply('ci', 'metadata:\n  labels: {a: "1"}\nspec: {color: blue}\n');
      expect(second.status, second.body).to.equal(200);
      const w = s.store.get('paint', 'pruned')!;
      expect(w.metadata.labels).to.deep.equal({ a: '1' });
      expect(w.spec).to.deep.equal({ color: 'blue', size: 9 });
      // A different manager that never applied color does not remove it.
      const third = await apply('other', 'spec: {extra: true}\n');
      expect(third.status, third.body).to.equal(200);
      expect(s.store.get('paint', 'pruned')!.spec).to.deep.equal({ color: 'blue', size: 9, extra: true });
      // A dry run records nothing: the next real apply still removes from what ci really applied.
      const dry = await s.call({
        method: 'PATCH',
        path: `${paint}/pruned?fieldManager=ci&dryRun=All`,
        contentType: 'application/apply-patch+yaml',
        body: `apiVersion: ${group}/v1alpha1\nkind: Widget\nspec: {color: blue, note: x}\n`,
      });
      expect(dry.status, dry.body).to.equal(200);
      const fourth = await apply('ci', 'spec: {}\n');
      expect(fourth.status, fourth.body).to.equal(200);
      expect(s.store.get('paint', 'pruned')!.spec).to.deep.equal({ size: 9, extra: true });
    });

    const badApply: readonly { name: string; query: string; body: string; status: number; message: RegExp }[] = [
      {
        name: 'no fieldManager',
        query: '',
        body: `apiVersion: ${group}/v1alpha1\nkind: Widget\n`,
        status: 422,
        message: /PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch/,
      },
      {
        name: 'no kind',
        query: '?fieldManager=m',
        body: `apiVersion: ${group}/v1alpha1\n`,
        status: 400,
        message: /must set apiVersion and kind/,
      },
      {
        name: 'another kind',
        query: '?fieldManager=m',
        body: `apiVersion: ${group}/v1alpha1\nkind: Gadget\n`,
        status: 400,
        message: /does not match the expected/,
      },
      {
        name: 'another name than the URL',
        query: '?fieldManager=m',
        body: `apiVersion: ${group}/v1alpha1\nkind: Widget\nmetadata:\n  name: other\n`,
        status: 400,
        message: /does not match the name on the URL/,
      },
      {
        name: 'a list, not an object',
        query: '?fieldManager=m',
        body: '- a\n- b\n',
        status: 400,
        message: /must be an object/,
      },
      {
        name: 'duplicate keys',
        query: '?fieldManager=m',
        body: `apiVersion: ${group}/v1alpha1\nkind: Widget\nkind: Widget\n`,
        status: 400,
        message: /error decoding YAML/,
      },
      {
        name: 'an alias bomb',
        query: '?fieldManager=m',
        body: `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n`,
        status: 400,
        message: /error decoding YAML/,
      },
      {
        name: 'nesting deeper than 1000 levels',
        query: '?fieldManager=m',
        body: `apiVersion: ${group}/v1alpha1\nkind: Widget\nspec: ${'['.repeat(1500)}${']'.repeat(1500)}\n`,
        status: 400,
        message: /nest/,
      },
    ];
    for (const c of badApply) {
      it(`apply with ${c.name} → ${c.status}, nothing written`, async () => {
        const r = await s.call({
          method: 'PATCH',
          path: `${paint}/never${c.query}`,
          contentType: 'application/apply-patch+yaml',
          body: c.body,
        });
        expect(r.status, r.body).to.equal(c.status);
        expect(r.json().message).to.match(c.message);
        expect(s.store.get('paint', 'never')).to.equal(undefined);
      });
    }

    it('force on a non-apply patch → 422 PatchOptions', async () => {
      await make('forced');
      const r = await s.call({
        method: 'PATCH',
        path: `${paint}/forced?force=true`,
        contentType: 'application/merge-patch+json',
        body: { spec: { size: 3 } },
      });
      expect(r.status, r.body).to.equal(422);
      expect(r.json().message).to.include('force: Forbidden: may not be specified for non-apply patch');
      expect(s.store.get('paint', 'forced')?.spec.size).to.equal(1);
    });

    it('fieldValidation: unknown fields warn by default, are dropped silently with Ignore, refused with Strict', async () => {
      const body = (name: string) => ({ metadata: { name, finalizers: ['x'] }, spec: { color: 'red' }, status: {} });
      const warn = await s.call({ method: 'POST', path: paint, body: body('warned') });
      expect(warn.status, warn.body).to.equal(201);
      expect(warn.warnings).to.deep.equal([
        '299 - "unknown field \\"metadata.finalizers\\""',
        '299 - "unknown field \\"status\\""',
      ]);
      expect(warn.json()).to.not.have.property('status');
      const ignore = await s.call({ method: 'POST', path: `${paint}?fieldValidation=Ignore`, body: body('ignored') });
      expect(ignore.status, ignore.body).to.equal(201);
      expect(ignore.warnings).to.deep.equal([]);
      const strict = await s.call({ method: 'POST', path: `${paint}?fieldValidation=Strict`, body: body('strict') });
      expect(strict.status, strict.body).to.equal(400);
      expect(strict.json().message).to.equal(
        'Widget in version "v1alpha1" cannot be handled as a Widget: strict decoding error: unknown field "metadata.finalizers", unknown field "status"',
      );
      expect(s.store.get('paint', 'strict')).to.equal(undefined);
      const strictPatch = await s.call({
        method: 'PATCH',
        path: `${paint}/warned?fieldValidation=Strict`,
        contentType: 'application/merge-patch+json',
        body: { spec: { size: 2 }, extra: true },
      });
      expect(strictPatch.status, strictPatch.body).to.equal(400);
      expect(s.store.get('paint', 'warned')?.spec).to.deep.equal({ color: 'red' });
      const bad = await s.call({ method: 'POST', path: `${paint}?fieldValidation=strict`, body: body('bad') });
      expect(bad.status, bad.body).to.equal(422);
      expect(bad.json().message).to.include(
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value',
      );
    });
  });

  describe('server-side Table output (kubectl get columns)', () => {
    const gallery = `${gv}/namespaces/gallery/widgets`;
    const table =
      'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
    interface Table {
      kind: string;
      apiVersion: string;
      metadata: { resourceVersion?: string };
      columnDefinitions: { name: string; type: string; format: string }[];
      rows: { cells: unknown[]; object?: { kind: string; metadata: { name: string }; spec?: unknown } }[];
    }

    before(async () => {
      for (const [name, spec] of [
        ['brush', { color: 'red', size: 2 }],
        ['canvas', {}],
      ] as const) {
        const r = await s.call({ method: 'POST', path: gallery, body: { metadata: { name }, spec } });
        expect(r.status, r.body).to.equal(201);
      }
    });

    it('a list as a Table: NAME, COLOR, SIZE, AGE; null cells for what is missing; metadata objects by default', async () => {
      const r = await s.call({ path: gallery, accept: table });
      expect(r.status, r.body).to.equal(200);
      const t = r.json() as unknown as Table;
      expect(t.kind).to.equal('Table');
      expect(t.apiVersion).to.equal('meta.k8s.io/v1');
      expect(t.metadata.resourceVersion).to.equal(s.store.resourceVersion);
      expect(t.columnDefinitions.map((c) => [c.name, c.type, c.format])).to.deep.equal([
        ['Name', 'string', 'name'],
        ['Color', 'string', ''],
        ['Size', 'integer', ''],
        ['Age', 'date', ''],
      ]);
      expect(t.rows.map((row) => row.cells.slice(0, 3))).to.deep.equal([
        ['brush', 'red', 2],
        ['canvas', null, null],
      ]);
      for (const row of t.rows) expect(row.cells[3]).to.match(/^\d+s$/);
      expect(t.rows[0]!.object).to.deep.include({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1' });
      expect(t.rows[0]!.object).to.not.have.property('spec');
    });

    it('includeObject=Object carries the widget, None nothing; another value → 422 TableOptions', async () => {
      const whole = (
        await s.call({ path: `${gallery}?includeObject=Object`, accept: table })
      ).json() as unknown as Table;
      expect(whole.rows[0]!.object).to.deep.include({ kind: 'Widget', spec: { color: 'red', size: 2 } });
      const none = (await s.call({ path: `${gallery}?includeObject=None`, accept: table })).json() as unknown as Table;
      expect(none.rows[0]).to.not.have.property('object');
      const bad = await s.call({ path: `${gallery}?includeObject=All`, accept: table });
      expect(bad.status, bad.body).to.equal(422);
      expect(bad.json().message).to.include('TableOptions.meta.k8s.io "" is invalid: includeObject: Unsupported value');
    });

    it('a single widget as a Table has one row; v1beta1 is answered in v1beta1', async () => {
      const one = (await s.call({ path: `${gallery}/brush`, accept: table })).json() as unknown as Table;
      expect(one.rows).to.have.length(1);
      expect(one.rows[0]!.cells[0]).to.equal('brush');
      const beta = await s.call({
        path: `${gallery}/brush`,
        accept: 'application/json;as=Table;v=v1beta1;g=meta.k8s.io',
      });
      expect((beta.json() as unknown as Table).apiVersion).to.equal('meta.k8s.io/v1beta1');
    });

    it('negotiation: plain JSON without as=Table; 406 when nothing acceptable; errors stay Status JSON', async () => {
      const plain = await s.call({ path: gallery, accept: 'application/json' });
      expect(plain.json().kind).to.equal('WidgetList');
      const partial = await s.call({
        path: gallery,
        accept: 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io',
      });
      expect(partial.status, partial.body).to.equal(406);
      expect(partial.json().reason).to.equal('NotAcceptable');
      const yaml = await s.call({ path: gallery, accept: 'application/yaml' });
      expect(yaml.status).to.equal(406);
      const missing = await s.call({ path: `${gallery}/nope`, accept: table });
      expect(missing.status).to.equal(404);
      expect(missing.json().kind).to.equal('Status');
    });

    it('an authorized narrowed list as a Table shows only what was authorized', async () => {
      const r = await s.call({
        path: `${gv}/namespaces/shop/widgets?fieldSelector=metadata.name%3Dpublic`,
        user: 'bob',
        accept: table,
      });
      expect(r.status, r.body).to.equal(200);
      expect((r.json() as unknown as Table).rows.map((row) => row.cells[0])).to.deep.equal(['public']);
    });

    it('a watch as Table: every event carries a one-row Table', async () => {
      const w = await s.watch(`${gallery}?watch=true&timeoutSeconds=30`, undefined, table);
      try {
        expect(w.status).to.equal(200);
        const first = (await w.next()) as unknown as { type: string; object: Table };
        expect(first.type).to.equal('ADDED');
        expect(first.object.kind).to.equal('Table');
        expect(first.object.rows).to.have.length(1);
        expect(['brush', 'canvas']).to.include(first.object.rows[0]!.cells[0]);
      } finally {
        w.close();
      }
    });
  });

  describe('routing on RequestInfo (the served resource is the authorized one)', () => {
    const notFound: readonly { name: string; path: string; method?: string }[] = [
      {
        name: 'look-alike group (unescaped `.`)',
        path: `/apis/sampleXkube-delegated-auth.io/v1alpha1/namespaces/shop/widgets`,
      },
      {
        name: 'look-alike group, item',
        path: `/apis/sampleXkube-delegated-auth.io/v1alpha1/namespaces/shop/widgets/public`,
      },
      { name: 'look-alike group discovery', path: `/apis/sampleXkube-delegated-auth.io` },
      { name: 'look-alike group version discovery', path: `/apis/sampleXkube-delegated-auth.io/v1alpha1` },
      { name: 'group with a suffix', path: `/apis/${group}x/v1alpha1/namespaces/shop/widgets` },
      { name: 'other version', path: `/apis/${group}/v1/namespaces/shop/widgets` },
      { name: 'legacy /api prefix', path: `/api/v1alpha1/namespaces/shop/widgets` },
      { name: 'subresource', path: `${shop}/public/status` },
      { name: 'cluster-scoped item of a namespaced resource', path: `${gv}/widgets/public` },
      { name: 'namespaced selfsubjectreviews', path: `${gv}/namespaces/shop/selfsubjectreviews`, method: 'POST' },
      { name: 'unknown resource', path: `${gv}/namespaces/shop/gadgets` },
    ];
    for (const c of notFound) {
      it(`${c.name} → 404, nothing served`, async () => {
        const r = await s.call({
          method: c.method ?? 'GET',
          path: c.path,
          ...(c.method === 'POST' ? { body: {} } : {}),
        });
        expect(r.status, r.body).to.equal(404);
        expect(r.body).to.not.include('"Widget"');
      });
    }

    it('%2F (Go decodes before splitting, routers split first) → 400 before authorization, nothing served', async () => {
      const r = await s.call({ path: `${shop}/public%2Fstatus` });
      expect(r.status, r.body).to.equal(400);
      expect(r.json().reason).to.equal('BadRequest');
      expect(s.authorized).to.deep.equal([]);
    });

    it('?watch=true;x (a `;` Go drops, Node keeps) → 400 before authorization, neither list nor watch', async () => {
      const r = await s.call({ path: `${shop}?watch=true;x` });
      expect(r.status, r.body).to.equal(400);
      expect(s.authorized).to.deep.equal([]);
    });

    it('a percent-encoded namespace is served as the decoded namespace that was authorized', async () => {
      const r = await s.call({
        path: `${gv}/namespaces/%73hop/widgets?fieldSelector=metadata.name%3Dpublic`,
        user: 'bob',
      });
      expect(r.status, r.body).to.equal(200);
      expect(names(r)).to.deep.equal(['shop/public']);
      expect(s.authorized.map((a) => [a.namespace, a.name])).to.deep.equal([['shop', 'public']]);
    });

    it('deletecollection is neither served nor advertised', async () => {
      const r = await s.call({ method: 'DELETE', path: `${shop}?labelSelector=app%3Dweb` });
      expect(r.status).to.equal(405);
      expect(s.authorized.map((a) => a.verb)).to.deep.equal(['deletecollection']);
      expect((await s.call({ path: shop })).status).to.equal(200);
      expect(names(await s.call({ path: `${shop}?labelSelector=app%3Dweb` }))).to.deep.equal(['shop/public']);
    });
  });

  describe('discovery advertises exactly the verbs served', () => {
    it('every advertised widget verb is served (none answers 405), and nothing else is', async () => {
      const list = (await s.call({ path: gv })).json() as { resources: { name: string; verbs: string[] }[] };
      const verbs = list.resources.find((r) => r.name === 'widgets')!.verbs;
      expect(verbs).to.deep.equal(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']);
      const probe: Record<string, Call> = {
        create: { method: 'POST', path: `${gv}/namespaces/probe/widgets`, body: { metadata: { name: 'p' } } },
        get: { path: `${gv}/namespaces/probe/widgets/p` },
        list: { path: `${gv}/namespaces/probe/widgets` },
        update: { method: 'PUT', path: `${gv}/namespaces/probe/widgets/p`, body: { metadata: { name: 'p' } } },
        patch: {
          method: 'PATCH',
          path: `${gv}/namespaces/probe/widgets/p`,
          contentType: 'application/merge-patch+json',
          body: { spec: { a: 1 } },
        },
        watch: { path: `${gv}/namespaces/probe/widgets?watch=true&timeoutSeconds=1` },
        delete: { method: 'DELETE', path: `${gv}/namespaces/probe/widgets/p` },
      };
      const served: string[] = [];
      for (const verb of ['create', 'get', 'list', 'update', 'patch', 'watch', 'delete']) {
        s.authorized.length = 0;
        const r = await s.call(probe[verb]!);
        expect(s.authorized.map((a) => a.verb)).to.deep.equal([verb]);
        if (r.status >= 200 && r.status < 300) served.push(verb);
      }
      expect(served.sort()).to.deep.equal(verbs);
    });
  });
});
