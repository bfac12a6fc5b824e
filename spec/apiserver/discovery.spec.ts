// Discovery of kube-delegated-auth/apiserver on a real HTTPS socket: APIGroupList / APIGroup / APIResourceList as Go
// writes them, and aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) negotiated by the Accept headers that
// kube-aggregator's discovery manager and kubectl send, with ETag/304 and Vary: Accept.
import { expect } from 'chai';
import {
  aggregatedDiscoveryMediaType,
  discoveryEndpoints,
  negotiateDiscovery,
  type ApiGroupDefinition,
} from '../../lib/apiserver/index.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { widgetsApi } from '../../examples/widgets-api.js';
import { startBlockServer, type BlockServer } from './serve-blocks.js';

const v2 = aggregatedDiscoveryMediaType('v2');
const v2beta1 = aggregatedDiscoveryMediaType('v2beta1');
/** kube-aggregator's discovery manager (handler_discovery.go): `discovery.AcceptV2 + "," + discovery.AcceptV2Beta1`. */
const aggregatorAccept = `${v2},${v2beta1}`;
/** client-go's acceptDiscoveryFormats (kubectl): v2, v2beta1, then plain JSON. */
const kubectlAccept = `${v2},${v2beta1},application/json`;

const otherGroup: ApiGroupDefinition = {
  name: 'other.example.com',
  versions: [
    {
      version: 'v1',
      resources: [{ name: 'things', singularName: 'thing', kind: 'Thing', namespaced: false, verbs: ['get'] }],
    },
    { version: 'v1beta1', resources: [] },
  ],
};

describe('apiserver/discovery', () => {
  let srv: BlockServer;
  before(async () => {
    srv = await startBlockServer(discoveryEndpoints([widgetsApi, otherGroup]));
  });
  after(() => srv.close());

  it('GET /apis without an aggregated Accept: the APIGroupList, application/json, Vary: Accept', async () => {
    for (const headers of [{}, { accept: 'application/json' }, { accept: '*/*' }] as Record<string, string>[]) {
      const res = await srv.get('/apis', headers);
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.equal('application/json');
      expect(res.headers.vary).to.equal('Accept');
      expect(JSON.parse(res.body)).to.deep.equal({
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [
          {
            name: 'sample.example.com',
            versions: [{ groupVersion: 'sample.example.com/v1alpha1', version: 'v1alpha1' }],
            preferredVersion: { groupVersion: 'sample.example.com/v1alpha1', version: 'v1alpha1' },
          },
          {
            name: 'other.example.com',
            versions: [
              { groupVersion: 'other.example.com/v1', version: 'v1' },
              { groupVersion: 'other.example.com/v1beta1', version: 'v1beta1' },
            ],
            preferredVersion: { groupVersion: 'other.example.com/v1', version: 'v1' },
          },
        ],
      });
    }
  });

  it("GET /apis as kube-aggregator asks it: APIGroupDiscoveryList v2 with v2's Content-Type, ETag and Vary", async () => {
    const res = await srv.get('/apis', { accept: aggregatorAccept });
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal(v2);
    expect(res.headers.vary).to.equal('Accept');
    expect(res.headers.etag).to.match(/^"[0-9A-F]{128}"$/);
    const doc = JSON.parse(res.body);
    expect(doc.kind).to.equal('APIGroupDiscoveryList');
    expect(doc.apiVersion).to.equal('apidiscovery.k8s.io/v2');
    expect(doc.items.map((i: { metadata: { name: string } }) => i.metadata.name)).to.deep.equal([
      'sample.example.com',
      'other.example.com',
    ]);
    const v1alpha1 = doc.items[0].versions[0];
    expect(v1alpha1.version).to.equal('v1alpha1');
    expect(v1alpha1.freshness).to.equal('Current');
    expect(v1alpha1.resources[0]).to.deep.equal({
      resource: 'widgets',
      responseKind: { group: 'sample.example.com', version: 'v1alpha1', kind: 'Widget' },
      scope: 'Namespaced',
      singularResource: 'widget',
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
      shortNames: ['wd'],
      categories: ['all'],
      subresources: [
        {
          subresource: 'status',
          responseKind: { group: 'sample.example.com', version: 'v1alpha1', kind: 'Widget' },
          verbs: ['get', 'patch', 'update'],
        },
      ],
    });
    // Empty lists are omitted, as Go's omitempty does.
    expect(v1alpha1.resources[1]).to.deep.equal({
      resource: 'gadgets',
      responseKind: { group: 'sample.example.com', version: 'v1alpha1', kind: 'Gadget' },
      scope: 'Cluster',
      singularResource: 'gadget',
      verbs: ['get', 'list'],
    });
    expect(doc.items[1].versions.map((v: { version: string }) => v.version)).to.deep.equal(['v1', 'v1beta1']);
  });

  it('If-None-Match with the ETag: 304 without a body (the aggregator re-asks every minute)', async () => {
    const first = await srv.get('/apis', { accept: aggregatorAccept });
    const again = await srv.get('/apis', { accept: aggregatorAccept, 'if-none-match': first.headers.etag as string });
    expect(again.status).to.equal(304);
    expect(again.body).to.equal('');
    const stale = await srv.get('/apis', { accept: aggregatorAccept, 'if-none-match': '"0000"' });
    expect(stale.status).to.equal(200);
  });

  it("v2beta1 when only v2beta1 is asked (older aggregators and clients), kubectl's list gets v2", async () => {
    const beta = await srv.get('/apis', { accept: v2beta1 });
    expect(beta.headers['content-type']).to.equal(v2beta1);
    expect(JSON.parse(beta.body).apiVersion).to.equal('apidiscovery.k8s.io/v2beta1');
    expect(beta.headers.etag).not.to.equal((await srv.get('/apis', { accept: v2 })).headers.etag);
    const kubectl = await srv.get('/apis', { accept: kubectlAccept });
    expect(kubectl.headers['content-type']).to.equal(v2);
  });

  it('negotiates as Go: protobuf and Table ranges skipped, q-values honoured, parameters in any order', () => {
    const pb = 'application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
    expect(negotiateDiscovery(`${pb},${v2},application/json`)).to.equal('v2');
    expect(negotiateDiscovery(`${pb},application/json`)).to.equal('legacy');
    expect(negotiateDiscovery(`${v2};q=0.5,application/json`)).to.equal('legacy');
    expect(negotiateDiscovery(`${v2};q=0,${v2beta1}`)).to.equal('v2beta1');
    expect(negotiateDiscovery('application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io')).to.equal('v2');
    expect(negotiateDiscovery('application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList')).to.equal(
      undefined,
    );
    expect(negotiateDiscovery('application/json;as=Table;v=v1;g=meta.k8s.io')).to.equal(undefined);
    expect(negotiateDiscovery(undefined)).to.equal('legacy');
    expect(negotiateDiscovery('')).to.equal('legacy');
  });

  it('406 NotAcceptable Status when nothing acceptable is asked', async () => {
    const res = await srv.get('/apis', { accept: 'application/yaml' });
    expect(res.status).to.equal(406);
    expect(res.headers.vary).to.equal('Accept');
    const status = JSON.parse(res.body);
    expect(status).to.include({ kind: 'Status', status: 'Failure', reason: 'NotAcceptable', code: 406 });
  });

  it('GET /apis/<group>: the APIGroup', async () => {
    const res = await srv.get('/apis/other.example.com');
    expect(res.status).to.equal(200);
    expect(JSON.parse(res.body)).to.deep.equal({
      kind: 'APIGroup',
      apiVersion: 'v1',
      name: 'other.example.com',
      versions: [
        { groupVersion: 'other.example.com/v1', version: 'v1' },
        { groupVersion: 'other.example.com/v1beta1', version: 'v1beta1' },
      ],
      preferredVersion: { groupVersion: 'other.example.com/v1', version: 'v1' },
    });
  });

  it('GET /apis/<group>/<version>: the APIResourceList, subresources as `widgets/status`', async () => {
    const res = await srv.get('/apis/sample.example.com/v1alpha1');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('application/json');
    expect(JSON.parse(res.body)).to.deep.equal({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: 'sample.example.com/v1alpha1',
      resources: [
        {
          name: 'widgets',
          singularName: 'widget',
          namespaced: true,
          kind: 'Widget',
          verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
          shortNames: ['wd'],
          categories: ['all'],
        },
        {
          name: 'widgets/status',
          singularName: '',
          namespaced: true,
          kind: 'Widget',
          verbs: ['get', 'patch', 'update'],
        },
        { name: 'gadgets', singularName: 'gadget', namespaced: false, kind: 'Gadget', verbs: ['get', 'list'] },
      ],
    });
    const empty = JSON.parse((await srv.get('/apis/other.example.com/v1beta1')).body);
    expect(empty.resources).to.deep.equal([]);
  });

  it('leaves resource paths, unknown groups and versions, and look-alikes to the caller', async () => {
    for (const path of [
      '/apis/sample.example.com/v1alpha1/namespaces/default/widgets',
      '/apis/sample.example.com/v1alpha1/widgets',
      '/apis/nope.example.com',
      '/apis/sample.example.com/v9',
      '/apis//',
      '/apis//v1',
      '/apis/sample.example.com//',
      '/apis/sample.example.com/v1alpha1//',
      '/apisx',
      '/api',
      '/api/v1',
    ]) {
      expect((await srv.get(path)).headers['x-fallthrough'], path).to.equal('true');
    }
  });

  it('serves each document with one trailing slash too, as Go routes /apis/, /apis/<group>/, /apis/<group>/<version>/', async () => {
    for (const [path, kind] of [
      ['/apis/', 'APIGroupList'],
      ['/apis/sample.example.com/', 'APIGroup'],
      ['/apis/sample.example.com/v1alpha1/', 'APIResourceList'],
    ] as const) {
      const res = await srv.get(path);
      expect(res.status, path).to.equal(200);
      expect(res.headers['x-fallthrough'], path).to.not.equal('true');
      expect(JSON.parse(res.body).kind, path).to.equal(kind);
    }
  });

  it('HEAD is served; POST/PUT/DELETE are a 405 MethodNotAllowed Status', async () => {
    expect((await srv.get('/apis', {}, 'HEAD')).status).to.equal(200);
    for (const method of ['POST', 'PUT', 'DELETE'] as const) {
      const res = await srv.get('/apis/sample.example.com/v1alpha1', {}, method);
      expect(res.status, method).to.equal(405);
      expect(JSON.parse(res.body)).to.include({ kind: 'Status', reason: 'MethodNotAllowed', code: 405 });
    }
  });

  it('refuses bad definitions when built, every problem at once', () => {
    const bad = [
      {
        name: 'NoDots',
        versions: [
          {
            version: '1.0',
            resources: [
              { name: 'Widgets', singularName: 'widget', kind: 'widget', namespaced: true, verbs: ['get', 'explode'] },
              { name: 'w', singularName: 'w', kind: 'W', namespaced: 'yes', verbs: [], shortNames: ['W W'] },
              { name: 'w', singularName: 'w', kind: 'W', namespaced: true, verbs: [] },
            ],
          },
        ],
      },
    ] as unknown as ApiGroupDefinition[];
    let err: unknown;
    try {
      discoveryEndpoints(bad);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(InvalidOptionError);
    const message = (err as Error).message;
    for (const fragment of [
      'group "NoDots": must be a lowercase DNS subdomain',
      'NoDots/1.0: version must look like v1',
      'resource "Widgets": name must be lowercase',
      'kind must be CamelCase',
      'unknown verbs ["explode"]',
      'namespaced must be true or false',
      'shortNames must be lowercase names',
      'resource "w": listed twice',
    ]) {
      expect(message).to.include(fragment);
    }
    expect(() => discoveryEndpoints([])).to.throw(InvalidOptionError, /at least one API group/);
  });
});
