import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Middleware } from 'koa';
import { Agent, request } from 'undici';
import { authenticate } from '../../../lib/koa/authenticate.js';
import { writeDevPki } from '../../../lib/dev-pki/dev-pki.js';
import { createSampleApp } from '../../../examples/sample-apiserver/app.js';
import type { HealthCheck } from '../../../lib/apiserver/index.js';
import { createSecureServer, type SecureServer } from '../../../lib/server/secure-server.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../../lib/trust/static.js';

const gv = '/apis/sample.kube-delegated-auth.io/v1alpha1';

describe('sample app (over real TLS, real authenticate())', function () {
  this.timeout(30_000);
  let dir: string;
  let server: SecureServer;
  let alice: Agent;
  let proxy: Agent;
  let anonymous: Agent;
  let trustReady = true;
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kda-sample-app-'));
    writeDevPki(dir);
    const clientCA = staticCABundle(read('client-ca.crt'), 'client-ca');
    const requestHeaderCA = staticCABundle(read('front-proxy-ca.crt'), 'front-proxy-ca');
    const readiness: HealthCheck = {
      name: 'trust:test',
      check: () => {
        if (!trustReady) throw new Error('CA bundle not loaded');
      },
    };
    const app = createSampleApp({
      pipeline: [
        authenticate({
          clientCA,
          requestHeader: {
            caProvider: requestHeaderCA,
            configProvider: staticRequestHeaderConfig({ uidHeaders: ['x-remote-uid'] }),
          },
        }) as Middleware,
      ],
      readinessChecks: [readiness],
      maxBodyBytes: 64 * 1024,
    });
    server = createSecureServer({
      handler: app.callback(),
      tlsCertFile: join(dir, 'serving.crt'),
      tlsPrivateKeyFile: join(dir, 'serving.key'),
      clientCA,
      requestHeaderCA,
      bindAddress: '127.0.0.1',
      securePort: 0,
    });
    await server.listen();
    const agent = (stem?: string) =>
      new Agent({
        connect: {
          ca: read('serving-ca.crt'),
          servername: 'localhost',
          ...(stem ? { cert: read(`${stem}.crt`), key: read(`${stem}.key`) } : {}),
        },
      });
    alice = agent('alice');
    proxy = agent('front-proxy-client');
    anonymous = agent();
  });
  after(async () => {
    await Promise.all([alice?.close(), proxy?.close(), anonymous?.close()]);
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  interface Call {
    method?: 'GET' | 'POST' | 'DELETE' | 'PUT';
    path: string;
    body?: string;
    headers?: Record<string, string | string[]>;
    agent?: Agent;
  }
  async function call(
    c: Call,
  ): Promise<{ status: number; body: string; json: () => Record<string, unknown>; type: string }> {
    const res = await request(`https://127.0.0.1:${server.port}${c.path}`, {
      method: c.method ?? 'GET',
      dispatcher: c.agent ?? alice,
      headers: { ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}), ...c.headers },
      ...(c.body !== undefined ? { body: c.body } : {}),
    });
    const body = await res.body.text();
    return {
      status: res.statusCode,
      body,
      json: () => JSON.parse(body) as Record<string, unknown>,
      type: String(res.headers['content-type'] ?? ''),
    };
  }

  describe('discovery (what the aggregator reads)', () => {
    it('GET /apis is an APIGroupList with the sample group', async () => {
      const r = await call({ path: '/apis' });
      expect(r.status).to.equal(200);
      expect(r.type).to.match(/^application\/json/);
      expect(r.json()).to.deep.equal({
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [
          {
            name: 'sample.kube-delegated-auth.io',
            versions: [{ groupVersion: 'sample.kube-delegated-auth.io/v1alpha1', version: 'v1alpha1' }],
            preferredVersion: { groupVersion: 'sample.kube-delegated-auth.io/v1alpha1', version: 'v1alpha1' },
          },
        ],
      });
    });

    it('GET /apis/<group> is an APIGroup', async () => {
      const r = await call({ path: '/apis/sample.kube-delegated-auth.io' });
      expect(r.json()).to.deep.include({ kind: 'APIGroup', apiVersion: 'v1', name: 'sample.kube-delegated-auth.io' });
      expect(r.json().preferredVersion).to.deep.equal({
        groupVersion: 'sample.kube-delegated-auth.io/v1alpha1',
        version: 'v1alpha1',
      });
    });

    it('GET /apis/<group>/<version> is an APIResourceList with widgets and selfsubjectreviews', async () => {
      const r = await call({ path: gv });
      const list = r.json() as { kind: string; groupVersion: string; resources: Record<string, unknown>[] };
      expect(list.kind).to.equal('APIResourceList');
      expect(list.groupVersion).to.equal('sample.kube-delegated-auth.io/v1alpha1');
      const byName = Object.fromEntries(list.resources.map((x) => [x.name, x]));
      expect(byName.widgets).to.deep.include({
        namespaced: true,
        kind: 'Widget',
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      });
      expect(byName.selfsubjectreviews).to.deep.include({
        namespaced: false,
        kind: 'SelfSubjectReview',
        verbs: ['create'],
      });
    });

    it('GET /apis as kube-aggregator asks it: aggregated discovery v2 (APIGroupDiscoveryList) with widgets and its verbs', async () => {
      const accept =
        'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';
      const r = await call({
        path: '/apis',
        agent: proxy,
        headers: { 'x-remote-user': 'system:aggregator', accept },
      });
      expect(r.status, r.body).to.equal(200);
      expect(r.type).to.equal('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
      const doc = r.json() as {
        kind: string;
        items: { metadata: { name: string }; versions: { version: string; resources: Record<string, unknown>[] }[] }[];
      };
      expect(doc.kind).to.equal('APIGroupDiscoveryList');
      expect(doc.items.map((g) => g.metadata.name)).to.deep.equal(['sample.kube-delegated-auth.io']);
      const widgets = doc.items[0]!.versions[0]!.resources.find((x) => x.resource === 'widgets');
      expect(widgets).to.deep.include({
        scope: 'Namespaced',
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
        shortNames: ['wd'],
      });
      // Without an aggregated Accept (older aggregators): the plain APIGroupList, as above.
      expect((await call({ path: '/apis', headers: { accept: 'application/json' } })).json().kind).to.equal(
        'APIGroupList',
      );
    });

    it('discovery with a trailing slash too (/apis/, /apis/<group>/, /apis/<group>/<version>/), as Go routes it', async () => {
      expect((await call({ path: '/apis/' })).json().kind).to.equal('APIGroupList');
      expect((await call({ path: '/apis/sample.kube-delegated-auth.io/' })).json().kind).to.equal('APIGroup');
      expect((await call({ path: `${gv}/` })).json().kind).to.equal('APIResourceList');
    });

    it('GET /openapi/v2 is a Swagger 2.0 document', async () => {
      const r = await call({ path: '/openapi/v2', agent: proxy, headers: { 'x-remote-user': 'system:aggregator' } });
      expect(r.status).to.equal(200);
      expect(r.json()).to.include({ swagger: '2.0' });
      expect(r.json()).to.have.property('paths');
    });

    it('GET /openapi/v3 points at a per-group-version OpenAPI 3 document', async () => {
      const r = await call({ path: '/openapi/v3' });
      const paths = r.json().paths as Record<string, { serverRelativeURL: string }>;
      const entry = paths['apis/sample.kube-delegated-auth.io/v1alpha1'];
      expect(entry).to.have.property('serverRelativeURL');
      const doc = await call({ path: entry!.serverRelativeURL });
      expect(doc.status).to.equal(200);
      expect(doc.json()).to.include({ openapi: '3.0.0' });
    });
  });

  describe('OpenAPI v2 and v3: every path, verb and type served (what kubectl explain, apply and patch read)', () => {
    type Doc = Record<string, unknown> & { paths: Record<string, Record<string, Record<string, unknown>>> };
    let v2: Doc;
    let v3: Doc;
    const widget = 'io.kube-delegated-auth.sample.v1alpha1.Widget';
    const meta = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
    const defsOf = (doc: Doc, version: 'v2' | 'v3') =>
      (version === 'v2' ? doc.definitions : (doc.components as { schemas: unknown }).schemas) as Record<
        string,
        { properties?: Record<string, Record<string, unknown>>; 'x-kubernetes-group-version-kind'?: unknown }
      >;
    const methods = ['get', 'post', 'put', 'patch', 'delete'];
    /** `path method` of every operation of a document. */
    const operations = (doc: Doc) =>
      Object.entries(doc.paths).flatMap(([p, item]) =>
        Object.keys(item)
          .filter((m) => methods.includes(m))
          .map((m) => `${p} ${m}`),
      );

    before(async () => {
      v2 = (await call({ path: '/openapi/v2' })).json() as Doc;
      v3 = (await call({ path: `/openapi/v3${gv}` })).json() as Doc;
    });

    it('both list the same operations: every widget verb on its path, watch paths, discovery, selfsubjectreviews', () => {
      const expected = [
        `${gv}/ get`,
        `${gv}/namespaces/{namespace}/widgets get`,
        `${gv}/namespaces/{namespace}/widgets post`,
        `${gv}/namespaces/{namespace}/widgets/{name} delete`,
        `${gv}/namespaces/{namespace}/widgets/{name} get`,
        `${gv}/namespaces/{namespace}/widgets/{name} patch`,
        `${gv}/namespaces/{namespace}/widgets/{name} put`,
        `${gv}/selfsubjectreviews post`,
        `${gv}/watch/namespaces/{namespace}/widgets get`,
        `${gv}/watch/namespaces/{namespace}/widgets/{name} get`,
        `${gv}/watch/widgets get`,
        `${gv}/widgets get`,
      ];
      expect(operations(v2).sort()).to.deep.equal(expected);
      expect(operations(v3).sort()).to.deep.equal(expected);
    });

    it('every advertised operation is served (no 404 or 405 from the router)', async () => {
      const made = await call({
        method: 'POST',
        path: `${gv}/namespaces/openapi/widgets`,
        body: JSON.stringify({ metadata: { name: 'probe' } }),
      });
      expect(made.status, made.body).to.equal(201);
      for (const op of operations(v2)) {
        const [template, method] = op.split(' ') as [string, string];
        const path = template.replace('{namespace}', 'openapi').replace('{name}', 'probe');
        const watching = path.includes('/watch/') || (path.endsWith('/widgets') && method === 'get');
        const res = await request(`https://127.0.0.1:${server.port}${path}${watching ? '?timeoutSeconds=1' : ''}`, {
          method: method.toUpperCase() as 'GET',
          dispatcher: alice,
          headers: {
            'content-type': method === 'patch' ? 'application/merge-patch+json' : 'application/json',
          },
          ...(method === 'get' || method === 'delete' ? {} : { body: '{}' }),
        });
        await res.body.text();
        expect([404, 405, 415], op).to.not.include(res.statusCode);
      }
    });

    it('every $ref resolves inside its own document', () => {
      for (const [doc, prefix, defs] of [
        [v2, '#/definitions/', defsOf(v2, 'v2')],
        [v3, '#/components/schemas/', defsOf(v3, 'v3')],
      ] as const) {
        const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
        expect(refs.length).to.be.greaterThan(10);
        for (const r of refs) {
          const target = r.slice(8, -1);
          expect(target.startsWith(prefix), target).to.equal(true);
          expect(defs, target).to.have.property(target.slice(prefix.length));
        }
      }
    });

    it('Widget and WidgetList carry their group-version-kind, typed metadata, and the same schema in v2 and v3', () => {
      for (const [defs, prefix] of [
        [defsOf(v2, 'v2'), '#/definitions/'],
        [defsOf(v3, 'v3'), '#/components/schemas/'],
      ] as const) {
        expect(defs[widget]!['x-kubernetes-group-version-kind']).to.deep.equal([
          { group: 'sample.kube-delegated-auth.io', kind: 'Widget', version: 'v1alpha1' },
        ]);
        expect(defs[`${widget}List`]!['x-kubernetes-group-version-kind']).to.deep.equal([
          { group: 'sample.kube-delegated-auth.io', kind: 'WidgetList', version: 'v1alpha1' },
        ]);
        // Typed as kube-apiserver types it: a $ref in v2, wrapped in allOf in v3 (siblings of a $ref are ignored).
        const refOf = (p: Record<string, unknown>) =>
          prefix === '#/definitions/' ? p.$ref : (p.allOf as { $ref: string }[])[0]!.$ref;
        expect(refOf(defs[widget]!.properties!.metadata!)).to.equal(`${prefix}${meta}ObjectMeta`);
        expect(refOf(defs[`${widget}List`]!.properties!.metadata!)).to.equal(`${prefix}${meta}ListMeta`);
        expect(defs[`${widget}List`]!.properties!.items!.items).to.deep.equal({ $ref: `${prefix}${widget}` });
        const spec = defs[widget]!.properties!.spec as {
          properties: object;
          'x-kubernetes-preserve-unknown-fields': boolean;
        };
        expect(Object.keys(spec.properties)).to.deep.equal(['color', 'size']);
        expect(spec['x-kubernetes-preserve-unknown-fields']).to.equal(true);
        expect(defs[`${meta}ObjectMeta`]!.properties!.labels).to.deep.include({
          type: 'object',
          additionalProperties: { type: 'string' },
        });
      }
      // The two documents declare the same types, and the same Widget spec.
      expect(Object.keys(defsOf(v2, 'v2')).sort()).to.deep.equal(Object.keys(defsOf(v3, 'v3')).sort());
      expect(defsOf(v2, 'v2')[widget]!.properties!.spec).to.deep.equal(defsOf(v3, 'v3')[widget]!.properties!.spec);
    });

    it('PATCH accepts JSON patch, merge patch and apply (no strategic merge patch) with dryRun, fieldManager, fieldValidation, force', () => {
      const item = `${gv}/namespaces/{namespace}/widgets/{name}`;
      const patchTypes = [
        'application/json-patch+json',
        'application/merge-patch+json',
        'application/apply-patch+yaml',
      ];
      const p2 = v2.paths[item]!.patch as { consumes: string[]; parameters: { name: string }[] };
      expect(p2.consumes).to.deep.equal(patchTypes);
      expect(p2.parameters.map((p) => p.name)).to.deep.equal([
        'body',
        'dryRun',
        'fieldManager',
        'fieldValidation',
        'force',
      ]);
      expect(p2).to.deep.include({
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': {
          group: 'sample.kube-delegated-auth.io',
          kind: 'Widget',
          version: 'v1alpha1',
        },
      });
      const p3 = v3.paths[item]!.patch as {
        requestBody: { content: Record<string, unknown> };
        parameters: { name: string }[];
      };
      expect(Object.keys(p3.requestBody.content)).to.deep.equal(patchTypes);
      expect(p3.parameters.map((p) => p.name)).to.deep.equal(['dryRun', 'fieldManager', 'fieldValidation', 'force']);
    });

    it('says in its info that widgets live in memory', () => {
      expect((v2.info as { description: string }).description).to.include('in memory');
      expect((v3.info as { description: string }).description).to.include('in memory');
    });
  });

  describe('widgets', () => {
    const widgets = `${gv}/namespaces/crud/widgets`;

    it('create, get, list (namespaced and cluster-wide), delete, then 404', async () => {
      const created = await call({
        method: 'POST',
        path: widgets,
        body: JSON.stringify({
          apiVersion: 'sample.kube-delegated-auth.io/v1alpha1',
          kind: 'Widget',
          metadata: { name: 'w1', labels: { a: 'b' } },
          spec: { color: 'red' },
        }),
      });
      expect(created.status).to.equal(201);
      const w = created.json() as { kind: string; metadata: Record<string, string>; spec: unknown };
      expect(w.kind).to.equal('Widget');
      expect(w.metadata).to.include({ name: 'w1', namespace: 'crud' });
      expect(w.metadata.uid).to.match(/^[0-9a-f-]{36}$/);
      expect(w.metadata.creationTimestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(w.metadata.resourceVersion).to.match(/^\d+$/);
      expect(w.spec).to.deep.equal({ color: 'red' });

      const got = await call({ path: `${widgets}/w1` });
      expect(got.status).to.equal(200);
      expect(got.json()).to.deep.equal(w);

      const list = await call({ path: widgets });
      expect(list.json()).to.include({ kind: 'WidgetList', apiVersion: 'sample.kube-delegated-auth.io/v1alpha1' });
      expect((list.json().items as unknown[]).map((i) => (i as typeof w).metadata.name)).to.deep.equal(['w1']);
      const all = await call({ path: `${gv}/widgets` });
      expect((all.json().items as (typeof w)[]).some((i) => i.metadata.namespace === 'crud')).to.equal(true);

      const del = await call({ method: 'DELETE', path: `${widgets}/w1` });
      expect(del.status).to.equal(200);
      expect(del.json()).to.deep.include({ kind: 'Status', status: 'Success' });
      const gone = await call({ path: `${widgets}/w1` });
      expect(gone.status).to.equal(404);
      expect(gone.json()).to.deep.equal({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'widgets.sample.kube-delegated-auth.io "w1" not found',
        reason: 'NotFound',
        details: { name: 'w1', group: 'sample.kube-delegated-auth.io', kind: 'widgets' },
        code: 404,
      });
    });

    const failures: readonly { name: string; call: Call; status: number; reason: string; message?: RegExp }[] = [
      {
        name: 'duplicate name → 409 AlreadyExists',
        call: { method: 'POST', path: `${gv}/namespaces/dup/widgets`, body: '{"metadata":{"name":"same"}}' },
        status: 409,
        reason: 'AlreadyExists',
        message: /^widgets\.sample\.kube-delegated-auth\.io "same" already exists$/,
      },
      {
        name: 'invalid name → 422 Invalid',
        call: { method: 'POST', path: `${gv}/namespaces/x/widgets`, body: '{"metadata":{"name":"Bad_Name"}}' },
        status: 422,
        reason: 'Invalid',
        message: /metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/,
      },
      {
        name: 'missing name → 422 Invalid',
        call: { method: 'POST', path: `${gv}/namespaces/x/widgets`, body: '{"spec":{}}' },
        status: 422,
        reason: 'Invalid',
      },
      {
        name: 'malformed JSON → 400 BadRequest',
        call: { method: 'POST', path: `${gv}/namespaces/x/widgets`, body: '{"metadata":' },
        status: 400,
        reason: 'BadRequest',
      },
      {
        name: 'wrong kind → 400 BadRequest',
        call: { method: 'POST', path: `${gv}/namespaces/x/widgets`, body: '{"kind":"Gadget","metadata":{"name":"g"}}' },
        status: 400,
        reason: 'BadRequest',
        message: /does not match the expected sample\.kube-delegated-auth\.io\/v1alpha1, Kind=Widget/,
      },
      {
        name: 'namespace in body differs from the path → 400 BadRequest (as Go)',
        call: { method: 'POST', path: `${gv}/namespaces/x/widgets`, body: '{"metadata":{"name":"n","namespace":"y"}}' },
        status: 400,
        reason: 'BadRequest',
        message: /^the namespace of the provided object does not match the namespace sent on the request$/,
      },
      {
        name: 'non-JSON content type → 415',
        call: {
          method: 'POST',
          path: `${gv}/namespaces/x/widgets`,
          body: 'name: y',
          headers: { 'content-type': 'application/yaml' },
        },
        status: 415,
        reason: 'UnsupportedMediaType',
      },
      {
        name: 'body over the limit → 413 RequestEntityTooLarge',
        call: {
          method: 'POST',
          path: `${gv}/namespaces/x/widgets`,
          body: JSON.stringify({ metadata: { name: 'big' }, spec: { blob: 'x'.repeat(70 * 1024) } }),
        },
        status: 413,
        reason: 'RequestEntityTooLarge',
        message: /^Request entity too large: limit is 65536$/,
      },
      {
        name: 'unsupported verb (create on one widget) → 405 MethodNotAllowed',
        call: { method: 'POST', path: `${gv}/namespaces/x/widgets/a`, body: '{}' },
        status: 405,
        reason: 'MethodNotAllowed',
      },
      {
        name: 'deletecollection (not an advertised verb) → 405 MethodNotAllowed',
        call: { method: 'DELETE', path: `${gv}/namespaces/x/widgets` },
        status: 405,
        reason: 'MethodNotAllowed',
      },
      { name: 'unknown resource → 404', call: { path: `${gv}/namespaces/x/gadgets` }, status: 404, reason: 'NotFound' },
      {
        name: 'delete a missing widget → 404',
        call: { method: 'DELETE', path: `${gv}/namespaces/x/widgets/nope` },
        status: 404,
        reason: 'NotFound',
      },
    ];

    before(async () => {
      const r = await call({
        method: 'POST',
        path: `${gv}/namespaces/dup/widgets`,
        body: '{"metadata":{"name":"same"}}',
      });
      expect(r.status).to.equal(201);
    });

    for (const c of failures) {
      it(c.name, async () => {
        const r = await call(c.call);
        expect(r.status).to.equal(c.status, r.body);
        const s = r.json();
        expect(s).to.include({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: c.reason, code: c.status });
        if (c.message) expect(s.message).to.match(c.message);
      });
    }
  });

  describe('selfsubjectreviews', () => {
    it('echoes a front-proxy identity (username, uid, groups, extra)', async () => {
      const r = await call({
        method: 'POST',
        path: `${gv}/selfsubjectreviews`,
        agent: proxy,
        body: '{"apiVersion":"sample.kube-delegated-auth.io/v1alpha1","kind":"SelfSubjectReview"}',
        headers: {
          'x-remote-user': 'jane',
          'x-remote-uid': 'uid-7',
          'x-remote-group': ['devs', 'a,b'],
          'x-remote-extra-scopes': ['read', 'write'],
        },
      });
      expect(r.status).to.equal(201);
      expect(r.json()).to.include({ kind: 'SelfSubjectReview', apiVersion: 'sample.kube-delegated-auth.io/v1alpha1' });
      expect((r.json().status as Record<string, unknown>).userInfo).to.deep.equal({
        username: 'jane',
        uid: 'uid-7',
        groups: ['devs', 'a,b', 'system:authenticated'],
        extra: { scopes: ['read', 'write'] },
      });
    });

    it('echoes a client-certificate identity (no body needed)', async () => {
      const r = await call({ method: 'POST', path: `${gv}/selfsubjectreviews` });
      expect(r.status).to.equal(201);
      const user = (r.json().status as { userInfo: Record<string, unknown> }).userInfo;
      expect(user).to.include({ username: 'alice' });
      expect(user.groups).to.deep.equal(['developers', 'system:authenticated']);
      expect(user).to.not.have.property('uid');
    });

    it('echoes system:anonymous for a spoofed header without a front-proxy certificate', async () => {
      const r = await call({
        method: 'POST',
        path: `${gv}/selfsubjectreviews`,
        agent: anonymous,
        headers: { 'x-remote-user': 'admin' },
      });
      const user = (r.json().status as { userInfo: Record<string, unknown> }).userInfo;
      expect(user).to.deep.equal({ username: 'system:anonymous', groups: ['system:unauthenticated'] });
    });
  });

  describe('health', () => {
    afterEach(() => (trustReady = true));
    const cases: readonly { name: string; path: string; ready: boolean; status: number; body: string }[] = [
      { name: 'healthz', path: '/healthz', ready: true, status: 200, body: 'ok' },
      { name: 'livez', path: '/livez', ready: false, status: 200, body: 'ok' },
      { name: 'readyz', path: '/readyz', ready: true, status: 200, body: 'ok' },
      {
        name: 'readyz?verbose lists every check',
        path: '/readyz?verbose',
        ready: true,
        status: 200,
        body: '[+]ping ok\n[+]trust:test ok\nreadyz check passed\n',
      },
      {
        name: 'readyz fails with 500 when trust is not loaded (reason withheld)',
        path: '/readyz',
        ready: false,
        status: 500,
        body: '[+]ping ok\n[-]trust:test failed: reason withheld\nreadyz check failed\n',
      },
    ];
    it('/readyz/<check> answers one check to an authorized caller, with its error (as Go)', async () => {
      trustReady = false;
      const r = await call({ path: '/readyz/trust:test' });
      expect([r.status, r.body]).to.deep.equal([500, 'internal server error: CA bundle not loaded\n']);
      trustReady = true;
      expect((await call({ path: '/readyz/trust:test' })).body).to.equal('ok');
    });

    for (const c of cases) {
      it(c.name, async () => {
        trustReady = c.ready;
        const r = await call({ path: c.path, agent: anonymous });
        expect(r.status).to.equal(c.status);
        expect(r.body).to.equal(c.body);
        expect(r.type).to.match(/^text\/plain/);
      });
    }
  });
});
