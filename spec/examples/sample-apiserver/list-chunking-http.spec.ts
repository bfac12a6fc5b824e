import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Middleware } from 'koa';
import { Agent, request } from 'undici';
import { Decision } from '../../../lib/authz/interfaces.js';
import { authenticate } from '../../../lib/koa/authenticate.js';
import { authorize } from '../../../lib/koa/authorize.js';
import { requestInfo } from '../../../lib/koa/request-info.js';
import { writeDevPki } from '../../../lib/dev-pki/dev-pki.js';
import type { Logger } from '../../../lib/log.js';
import { createSampleApp } from '../../../examples/sample-apiserver/app.js';
import { decodeContinue, encodeContinue } from '../../../examples/sample-apiserver/list-chunking.js';
import { WidgetStore } from '../../../examples/sample-apiserver/widget-store.js';
import { createSecureServer, type SecureServer } from '../../../lib/server/secure-server.js';
import { staticCABundle } from '../../../lib/trust/static.js';

// List chunking (`limit`, `continue`) on the running sample: the real Koa pipeline (requestInfo → authenticate →
// authorize, an allow-all in-process authorizer) on real TLS with client certificates, as widgets.spec.ts runs it.

const gv = '/apis/sample.kube-delegated-auth.io/v1alpha1';
const tableAccept = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}
interface Reply {
  status: number;
  body: Record<string, unknown>;
  raw: string;
  headers: Record<string, string | string[] | undefined>;
}

describe('sample list chunking over HTTP: limit and continue as Go serves them (real TLS)', function () {
  this.timeout(30_000);
  let dir: string;
  let server: SecureServer;
  let agent: Agent;
  let store: WidgetStore;
  const logged: { fields: object; msg: string }[] = [];

  const get = async (path: string, accept?: string): Promise<Reply> => {
    const res = await request(`https://127.0.0.1:${server.port}${path}`, {
      dispatcher: agent,
      headers: accept ? { accept } : {},
    });
    const raw = await res.body.text();
    return { status: res.statusCode, raw, body: JSON.parse(raw) as Record<string, unknown>, headers: res.headers };
  };
  const meta = (r: Reply) => r.body.metadata as ListMeta;
  const names = (r: Reply) =>
    (r.body.items as { metadata: { namespace: string; name: string } }[]).map(
      (i) => `${i.metadata.namespace}/${i.metadata.name}`,
    );
  const create = (ns: string, name: string, labels?: Record<string, string>) => {
    const r = store.create(ns, { metadata: { name, ...(labels ? { labels } : {}) } });
    if (!r.ok) throw new Error(`seed ${ns}/${name} failed`);
  };
  /** Follows the continue tokens from `first` (a path with `?`), returning every item seen and every chunk. */
  const follow = async (first: string) => {
    const seen: string[] = [];
    const chunks: Reply[] = [];
    let path = first;
    for (let i = 0; i < 50; i++) {
      const r = await get(path);
      expect(r.status, r.raw).to.equal(200);
      chunks.push(r);
      seen.push(...names(r));
      const next = meta(r).continue;
      if (!next) return { seen, chunks };
      path = `${first}&continue=${encodeURIComponent(next)}`;
    }
    throw new Error('the continue tokens never ended');
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kda-sample-chunking-'));
    writeDevPki(dir);
    const read = (name: string) => readFileSync(join(dir, name), 'utf8');
    const clientCA = staticCABundle(read('client-ca.crt'), 'client-ca');
    const logger: Logger = {
      debug: () => undefined,
      info: (fields, msg) => logged.push({ fields, msg }),
      warn: (fields, msg) => logged.push({ fields, msg }),
      error: (fields, msg) => logged.push({ fields, msg }),
    };
    store = new WidgetStore();
    const app = createSampleApp({
      pipeline: [
        requestInfo(),
        authenticate({ clientCA }),
        authorize({ authorizer: { authorize: () => Promise.resolve({ decision: Decision.Allow, reason: '' }) } }),
      ] as Middleware[],
      store,
      logger,
    });
    server = createSecureServer({
      handler: app.callback(),
      tlsCertFile: join(dir, 'serving.crt'),
      tlsPrivateKeyFile: join(dir, 'serving.key'),
      clientCA,
      bindAddress: '127.0.0.1',
      securePort: 0,
    });
    await server.listen();
    agent = new Agent({
      connect: { ca: read('serving-ca.crt'), servername: 'localhost', cert: read('alice.crt'), key: read('alice.key') },
    });
    // Created out of key order, so key order is something the server does, not an accident of insertion.
    for (const n of ['e', 'c', 'a', 'd', 'b']) create('shop', n, { app: n === 'c' ? 'db' : 'web' });
    create('other', 'z');
    create('a-b', 'y');
  });
  after(async () => {
    await agent?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => (logged.length = 0));

  it('limit=2: two widgets in name order, a continue token, remainingItemCount, the current resourceVersion', async () => {
    const r = await get(`${gv}/namespaces/shop/widgets?limit=2`);
    expect(r.status).to.equal(200);
    expect(names(r)).to.deep.equal(['shop/a', 'shop/b']);
    expect(meta(r).remainingItemCount).to.equal(3);
    expect(meta(r).resourceVersion).to.equal(store.resourceVersion);
    // Go's token: relative to the namespace's key prefix, just after the last name, at the list's revision.
    expect(decodeContinue(meta(r).continue!)).to.deep.equal({
      ok: true,
      point: { startKey: 'b\u0000', resourceVersion: store.revision },
    });
    // ListMeta's field order, as Go writes it.
    expect(Object.keys(meta(r))).to.deep.equal(['resourceVersion', 'continue', 'remainingItemCount']);
  });

  it('following the tokens lists all five once, every chunk at the first chunk’s resourceVersion', async () => {
    const { seen, chunks } = await follow(`${gv}/namespaces/shop/widgets?limit=2`);
    expect(seen).to.deep.equal(['shop/a', 'shop/b', 'shop/c', 'shop/d', 'shop/e']);
    expect(chunks.map((c) => names(c).length)).to.deep.equal([2, 2, 1]);
    expect(chunks.map((c) => meta(c).remainingItemCount)).to.deep.equal([3, 1, undefined]);
    expect(new Set(chunks.map((c) => meta(c).resourceVersion)).size).to.equal(1);
  });

  it('the cluster-wide list chunks in namespace/name key order (a-b/ sorts before a/ … as etcd’s bytes do)', async () => {
    const { seen } = await follow(`${gv}/widgets?limit=3`);
    expect(seen).to.deep.equal(['a-b/y', 'other/z', 'shop/a', 'shop/b', 'shop/c', 'shop/d', 'shop/e']);
    const first = await get(`${gv}/widgets?limit=3`);
    const d = decodeContinue(meta(first).continue!);
    expect(d.ok && d.point.startKey).to.equal('shop/a\u0000');
  });

  it('with a label selector: chunks of matching widgets only, no remainingItemCount (Go leaves it unknown)', async () => {
    const { seen, chunks } = await follow(`${gv}/namespaces/shop/widgets?limit=2&labelSelector=app%3Dweb`);
    expect(seen).to.deep.equal(['shop/a', 'shop/b', 'shop/d', 'shop/e']);
    expect(chunks.map((c) => meta(c).remainingItemCount)).to.deep.equal([undefined, undefined]);
    expect(meta(chunks[0]!).continue).to.be.a('string');
  });

  const everything: readonly string[] = ['', 'limit=0', 'limit=-1', 'limit=5', 'limit=9223372036854775807'];
  for (const q of everything) {
    it(`?${q || '(no limit)'}: all five, no continue, no remainingItemCount`, async () => {
      const r = await get(`${gv}/namespaces/shop/widgets?${q}`);
      expect(r.status).to.equal(200);
      expect(names(r)).to.deep.equal(['shop/a', 'shop/b', 'shop/c', 'shop/d', 'shop/e']);
      expect(meta(r)).to.deep.equal({ resourceVersion: store.resourceVersion });
    });
  }

  const badLimits: readonly string[] = ['limit=abc', 'limit=1.5', 'limit=', 'limit=9223372036854775808'];
  for (const q of badLimits) {
    it(`?${q} → 400 BadRequest (strconv.ParseInt), as before`, async () => {
      const r = await get(`${gv}/namespaces/shop/widgets?${q}`);
      expect(r.status).to.equal(400);
      expect(r.body).to.include({ kind: 'Status', reason: 'BadRequest' });
      expect(r.body.message).to.match(/^strconv\.ParseInt: parsing ".*": invalid syntax$/);
    });
  }

  it('as=Table (what kubectl asks for) chunks the same way and carries continue in the Table metadata', async () => {
    const r = await get(`${gv}/namespaces/shop/widgets?limit=2`, tableAccept);
    expect(r.status).to.equal(200);
    expect(r.body.kind).to.equal('Table');
    expect((r.body.rows as { cells: unknown[] }[]).map((row) => row.cells[0])).to.deep.equal(['a', 'b']);
    expect(meta(r).remainingItemCount).to.equal(3);
    const next = await get(
      `${gv}/namespaces/shop/widgets?limit=2&continue=${encodeURIComponent(meta(r).continue!)}`,
      tableAccept,
    );
    expect((next.body.rows as { cells: unknown[] }[]).map((row) => row.cells[0])).to.deep.equal(['c', 'd']);
    expect(meta(next).resourceVersion).to.equal(meta(r).resourceVersion);
  });

  describe('resourceVersion and resourceVersionMatch with chunks, as Go', () => {
    it('limit + resourceVersion (Go’s legacy exact match) and resourceVersionMatch=Exact read that revision', async () => {
      const before = store.revision;
      create('shop', 'aa');
      try {
        for (const q of [
          `limit=2&resourceVersion=${before}`,
          `resourceVersionMatch=Exact&resourceVersion=${before}&limit=2`,
        ]) {
          const r = await get(`${gv}/namespaces/shop/widgets?${q}`);
          expect(r.status, r.raw).to.equal(200);
          expect(names(r), q).to.deep.equal(['shop/a', 'shop/b']);
          expect(meta(r).resourceVersion).to.equal(String(before));
          const d = decodeContinue(meta(r).continue!);
          expect(d.ok && d.point.resourceVersion).to.equal(before);
        }
        // Without a limit (or with NotOlderThan) a resourceVersion is a lower bound: the current state.
        for (const q of [
          `resourceVersion=${before}`,
          `resourceVersionMatch=NotOlderThan&resourceVersion=${before}&limit=2`,
        ]) {
          const r = await get(`${gv}/namespaces/shop/widgets?${q}`);
          expect(names(r)[1], q).to.equal('shop/aa');
          expect(meta(r).resourceVersion).to.equal(store.resourceVersion);
        }
        // A resourceVersion not reached yet is Go's 504, whatever the match.
        const ahead = await get(`${gv}/namespaces/shop/widgets?resourceVersion=${store.revision + 5}`);
        expect(ahead.status, ahead.raw).to.equal(504);
        expect(ahead.body.message).to.equal(
          `Timeout: Too large resource version: ${store.revision + 5}, current: ${store.revision}`,
        );
      } finally {
        store.delete('shop', 'aa');
      }
    });

    const invalid: readonly { query: string; message: string }[] = [
      {
        // Recorded from the Go sample-apiserver (1.37 and 1.20): both causes, in this order.
        query: 'limit=2&continue=x&resourceVersionMatch=NotOlderThan',
        message:
          'ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided, resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided]',
      },
      {
        query: 'resourceVersionMatch=NotOlderThan&resourceVersion=5&continue=!!!',
        message:
          'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided',
      },
      {
        query: 'resourceVersionMatch=bogus&resourceVersion=5',
        message:
          'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "bogus": supported values: "Exact", "NotOlderThan", ""',
      },
      {
        query: 'resourceVersionMatch=Exact&resourceVersion=0',
        message:
          'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
      },
    ];
    for (const c of invalid) {
      it(`?${c.query} → 422 ListOptions, nothing listed`, async () => {
        const r = await get(`${gv}/namespaces/shop/widgets?${c.query}`);
        expect(r.status, r.raw).to.equal(422);
        expect(r.body).to.include({ reason: 'Invalid', message: c.message });
        expect(r.body).to.not.have.property('items');
      });
    }
  });

  describe('a consistent list: later chunks are read at the first chunk’s revision', () => {
    it('creates, updates and deletes after the first chunk do not show up; the objects are as they were', async () => {
      const first = await get(`${gv}/namespaces/shop/widgets?limit=2`);
      const rv = meta(first).resourceVersion;
      create('shop', 'bb');
      create('shop', 'f');
      store.delete('shop', 'c');
      const u = store.update('shop', 'd', { metadata: { name: 'd', labels: { changed: 'yes' } } });
      expect(u.ok).to.equal(true);
      try {
        const rest = await get(
          `${gv}/namespaces/shop/widgets?limit=10&continue=${encodeURIComponent(meta(first).continue!)}`,
        );
        expect(rest.status, rest.raw).to.equal(200);
        expect(names(rest)).to.deep.equal(['shop/c', 'shop/d', 'shop/e']);
        expect(meta(rest).resourceVersion).to.equal(rv);
        const d = (rest.body.items as { metadata: { name: string; labels?: object } }[]).find(
          (i) => i.metadata.name === 'd',
        );
        expect(d?.metadata.labels).to.deep.equal({ app: 'web' });
        // A new list sees the changes.
        const now = await get(`${gv}/namespaces/shop/widgets`);
        expect(names(now)).to.deep.equal(['shop/a', 'shop/b', 'shop/bb', 'shop/d', 'shop/e', 'shop/f']);
      } finally {
        store.delete('shop', 'bb');
        store.delete('shop', 'f');
        create('shop', 'c', { app: 'db' });
        store.update('shop', 'd', { metadata: { name: 'd', labels: { app: 'web' } } });
      }
    });
  });

  describe('tokens the store can no longer serve → 410 Expired with a token to continue inconsistently', () => {
    const expiredMessage =
      'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

    it('a token older than the 1000-event history: 410, reason Expired, Go’s message, metadata.continue at rv -1', async () => {
      const first = await get(`${gv}/namespaces/shop/widgets?limit=2`);
      for (let i = 0; i < 1001; i++) store.update('shop', 'e', { metadata: { name: 'e', labels: { app: 'web' } } });
      const r = await get(
        `${gv}/namespaces/shop/widgets?limit=2&continue=${encodeURIComponent(meta(first).continue!)}`,
      );
      expect(r.status, r.raw).to.equal(410);
      expect(r.body).to.include({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 });
      expect(r.body.message).to.equal(expiredMessage);
      const fresh = meta(r).continue!;
      expect(decodeContinue(fresh)).to.deep.equal({ ok: true, point: { startKey: 'b\u0000', resourceVersion: -1 } });
      expect(logged.some((l) => /left the event history/.test(l.msg))).to.equal(true);
      // The token from the 410 continues from the same key at the current revision, and chunks from there.
      const rest = await get(`${gv}/namespaces/shop/widgets?limit=2&continue=${encodeURIComponent(fresh)}`);
      expect(rest.status, rest.raw).to.equal(200);
      expect(names(rest)).to.deep.equal(['shop/c', 'shop/d']);
      expect(meta(rest).resourceVersion).to.equal(store.resourceVersion);
      const d = decodeContinue(meta(rest).continue!);
      expect(d.ok && d.point.resourceVersion).to.equal(store.revision);
    });

    it('hostile: a token naming a revision this store never reached (another replica, a restart, forged) → Go’s 504', async () => {
      const ahead = store.revision + 1000;
      const r = await get(`${gv}/namespaces/shop/widgets?limit=2&continue=${encodeContinue('b\u0000', ahead)}`);
      // Byte for byte what kube-apiserver 1.37 answers (recorded from the Go sample-apiserver), plus Retry-After.
      expect(r.status, r.raw).to.equal(504);
      expect(r.body).to.deep.equal({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `Timeout: Too large resource version: ${ahead}, current: ${store.revision}`,
        reason: 'Timeout',
        details: {
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
          retryAfterSeconds: 1,
        },
        code: 504,
      });
      expect(r.headers['retry-after']).to.equal('1');
    });

    it('a list at a revision that left the history (limit + resourceVersion, or Exact) → 410 "too old"', async () => {
      for (const q of ['limit=2&resourceVersion=1', 'resourceVersionMatch=Exact&resourceVersion=1']) {
        const r = await get(`${gv}/namespaces/shop/widgets?${q}`);
        expect(r.status, r.raw).to.equal(410);
        expect(r.body).to.deep.equal({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: 'The resourceVersion for the provided list is too old.',
          reason: 'Expired',
          code: 410,
        });
      }
    });
  });

  describe('hostile and malformed tokens → 400, nothing listed', () => {
    const invalid: readonly { name: string; token: string; message: string }[] = [
      {
        name: 'garbage',
        token: '!!!',
        message: 'invalid continue token: continue key is not valid: illegal base64 data at input byte 0',
      },
      {
        name: 'base64 of garbage',
        token: Buffer.from('not json').toString('base64url'),
        message:
          "invalid continue token: continue key is not valid: invalid character 'o' in literal null (expecting 'u')",
      },
      {
        name: 'path traversal out of the namespace',
        token: Buffer.from('{"v":"meta.k8s.io/v1","rv":1,"start":"../other/z"}').toString('base64url'),
        message: 'invalid continue token: continue key is not valid: ../other/z',
      },
      {
        name: 'rv 0',
        token: encodeContinue('a', 0),
        message:
          'invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)',
      },
      {
        name: 'a huge token',
        token: 'A'.repeat(10_001),
        message: 'invalid continue token: continue key is not valid: illegal base64 data at input byte 10000',
      },
    ];
    for (const c of invalid) {
      it(`${c.name} → 400 BadRequest naming the cause, logged`, async () => {
        const r = await get(`${gv}/namespaces/shop/widgets?limit=2&continue=${encodeURIComponent(c.token)}`);
        expect(r.status, r.raw).to.equal(400);
        expect(r.body).to.include({ kind: 'Status', reason: 'BadRequest', code: 400 });
        expect(r.body.message).to.equal(c.message);
        expect(r.body).to.not.have.property('items');
        expect(logged.map((l) => l.msg)).to.include('list refused: bad continue parameter');
      });
    }

    it('continue with a resourceVersion → 400 as Go; resourceVersion=0 is allowed', async () => {
      const first = await get(`${gv}/namespaces/shop/widgets?limit=2`);
      const t = encodeURIComponent(meta(first).continue!);
      const refused = await get(`${gv}/namespaces/shop/widgets?limit=2&continue=${t}&resourceVersion=5`);
      expect(refused.status).to.equal(400);
      expect(refused.body.message).to.equal('specifying resource version is not allowed when using continue');
      const allowed = await get(`${gv}/namespaces/shop/widgets?limit=2&continue=${t}&resourceVersion=0`);
      expect(allowed.status, allowed.raw).to.equal(200);
      expect(names(allowed)).to.deep.equal(['shop/c', 'shop/d']);
    });

    it('a token from another namespace’s list continues at the same name within this namespace, never outside it', async () => {
      // Go's tokens are relative to the list's key prefix: the same position, in the list being served.
      const r = await get(`${gv}/namespaces/shop/widgets?continue=${encodeContinue('c\u0000', store.revision)}`);
      expect(r.status, r.raw).to.equal(200);
      expect(names(r)).to.deep.equal(['shop/d', 'shop/e']);
      // A cluster-wide token (namespace/name) on a namespaced list starts after that string within the namespace.
      const cross = await get(
        `${gv}/namespaces/other/widgets?continue=${encodeContinue('shop/a\u0000', store.revision)}`,
      );
      expect(cross.status, cross.raw).to.equal(200);
      expect(names(cross)).to.deep.equal(['other/z']);
      const past = await get(`${gv}/namespaces/other/widgets?continue=${encodeContinue('zz', store.revision)}`);
      expect(names(past)).to.deep.equal([]);
      expect(meta(past).continue).to.equal(undefined);
    });
  });

  it('a watch with continue, or with resourceVersionMatch → 422 as kube-apiserver 1.37 answers (1.20 ignored continue)', async () => {
    const r = await get(`${gv}/namespaces/shop/widgets?watch=true&continue=!!!`);
    expect(r.status, r.raw).to.equal(422);
    expect(r.body).to.deep.include({
      message:
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided',
      reason: 'Invalid',
    });
    const m = await get(`${gv}/namespaces/shop/widgets?watch=true&resourceVersionMatch=NotOlderThan&resourceVersion=1`);
    expect(m.status, m.raw).to.equal(422);
    expect(m.body.message).to.equal(
      'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
    );
  });

  it('a watch ignores limit, as Go: every widget, then the stream stays open', async () => {
    const res = await request(`https://127.0.0.1:${server.port}${gv}/namespaces/shop/widgets?watch=true&limit=1`, {
      dispatcher: agent,
    });
    expect(res.statusCode).to.equal(200);
    let buf = '';
    for await (const chunk of res.body) {
      buf += (chunk as Buffer).toString('utf8');
      if (buf.split('\n').length > 5) break;
    }
    res.body.destroy();
    const lines = buf.split('\n').slice(0, 5);
    const events = lines.map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).to.deep.equal([
      'ADDED a',
      'ADDED b',
      'ADDED c',
      'ADDED d',
      'ADDED e',
    ]);
  });
});
