// OpenAPI v2/v3 of kube-delegated-auth/apiserver on a real HTTPS socket: every path by verb, the List kinds, typed
// metadata, x-kubernetes-group-version-kind, every $ref resolving, kube-openapi's hash/ETag caching; and the real
// kubectl (v1.37, the harness's) running `kubectl explain widgets.spec` against the server.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { kubectlPath } from '../../harness/kubernetes-version.js';
import {
  definitionName,
  discoveryEndpoints,
  openApiEndpoints,
  openApiV2,
  openApiV3,
  type ApiGroupDefinition,
} from '../../lib/apiserver/index.js';
import { widgetsApi } from '../../examples/widgets-api.js';
import { testPki } from '../support/pki.js';
import { startBlockServer, type BlockServer } from './serve-blocks.js';

const execFileAsync = promisify(execFile);
/** Runs kubectl with stdin closed (a prompt fails instead of waiting) and a bound on its run time. */
const run = (file: string, args: string[]) => {
  const child = execFileAsync(file, args, { timeout: 30_000 });
  child.child.stdin?.end();
  return child;
};

/** Every `$ref` in a document, with the JSON path it sits at. */
function refs(value: unknown, at = '$', out: { at: string; ref: string }[] = []): { at: string; ref: string }[] {
  if (Array.isArray(value)) value.forEach((v, i) => refs(v, `${at}[${i}]`, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push({ at, ref: v });
      else refs(v, `${at}.${k}`, out);
    }
  }
  return out;
}

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const base = '/apis/sample.example.com/v1alpha1';
const widget = 'com.example.sample.v1alpha1.Widget';
const widgetList = 'com.example.sample.v1alpha1.WidgetList';

/** The operations kube-apiserver lists for a namespaced resource with every verb and a status subresource. */
const expectedWidgetOperations: Record<string, Record<string, [string, string]>> = {
  [`${base}/namespaces/{namespace}/widgets`]: {
    get: ['listSampleExampleComV1alpha1NamespacedWidget', 'list'],
    post: ['createSampleExampleComV1alpha1NamespacedWidget', 'post'],
    delete: ['deleteSampleExampleComV1alpha1CollectionNamespacedWidget', 'deletecollection'],
  },
  [`${base}/namespaces/{namespace}/widgets/{name}`]: {
    get: ['readSampleExampleComV1alpha1NamespacedWidget', 'get'],
    put: ['replaceSampleExampleComV1alpha1NamespacedWidget', 'put'],
    patch: ['patchSampleExampleComV1alpha1NamespacedWidget', 'patch'],
    delete: ['deleteSampleExampleComV1alpha1NamespacedWidget', 'delete'],
  },
  [`${base}/namespaces/{namespace}/widgets/{name}/status`]: {
    get: ['readSampleExampleComV1alpha1NamespacedWidgetStatus', 'get'],
    put: ['replaceSampleExampleComV1alpha1NamespacedWidgetStatus', 'put'],
    patch: ['patchSampleExampleComV1alpha1NamespacedWidgetStatus', 'patch'],
  },
  [`${base}/widgets`]: { get: ['listSampleExampleComV1alpha1WidgetForAllNamespaces', 'list'] },
  [`${base}/watch/namespaces/{namespace}/widgets`]: {
    get: ['watchSampleExampleComV1alpha1NamespacedWidgetList', 'watchlist'],
  },
  [`${base}/watch/namespaces/{namespace}/widgets/{name}`]: {
    get: ['watchSampleExampleComV1alpha1NamespacedWidget', 'watch'],
  },
  [`${base}/watch/widgets`]: { get: ['watchSampleExampleComV1alpha1WidgetListForAllNamespaces', 'watchlist'] },
};

function operationsOf(doc: Doc, prefix: string): Record<string, Record<string, [string, string]>> {
  const out: Record<string, Record<string, [string, string]>> = {};
  for (const [path, item] of Object.entries(doc.paths as Doc)) {
    if (!path.startsWith(prefix)) continue;
    for (const [method, op] of Object.entries(item as Doc)) {
      if (method === 'parameters') continue;
      (out[path] ??= {})[method] = [op.operationId, op['x-kubernetes-action']];
    }
  }
  return out;
}

describe('apiserver/openapi: documents', () => {
  it('v2: every widget path by verb, gadgets (get, list, cluster-scoped) only get paths, all $refs resolve', () => {
    const doc = openApiV2([widgetsApi]) as Doc;
    expect(doc.swagger).to.equal('2.0');
    const widgetOps = operationsOf(doc, `${base}/`);
    const gadgetPaths = Object.keys(widgetOps).filter((p) => p.includes('gadgets'));
    for (const p of gadgetPaths) delete widgetOps[p];
    expect(widgetOps[`${base}/`]).to.deep.equal({ get: ['getSampleExampleComV1alpha1APIResources', undefined] });
    delete widgetOps[`${base}/`];
    expect(widgetOps).to.deep.equal(expectedWidgetOperations);
    expect(operationsOf(doc, `${base}/gadgets`)).to.deep.equal({
      [`${base}/gadgets`]: { get: ['listSampleExampleComV1alpha1Gadget', 'list'] },
      [`${base}/gadgets/{name}`]: { get: ['readSampleExampleComV1alpha1Gadget', 'get'] },
    });
    const unresolved = refs(doc).filter(({ ref }) => !(ref.replace('#/definitions/', '') in doc.definitions));
    expect(unresolved).to.deep.equal([]);
    expect(refs(doc).every(({ ref }) => ref.startsWith('#/definitions/'))).to.equal(true);
  });

  it('v2: the kind, its List kind, typed metadata and x-kubernetes-group-version-kind', () => {
    const defs = (openApiV2([widgetsApi]) as Doc).definitions;
    expect(defs[widget]['x-kubernetes-group-version-kind']).to.deep.equal([
      { group: 'sample.example.com', kind: 'Widget', version: 'v1alpha1' },
    ]);
    expect(defs[widget].properties.metadata.$ref).to.equal(
      '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
    );
    expect(defs[widget].properties.spec.properties.size.type).to.equal('integer');
    expect(defs[widget].description).to.equal('A Widget is a thing this extension apiserver keeps.');
    expect(defs[widgetList].required).to.deep.equal(['items']);
    expect(defs[widgetList].properties.items.items.$ref).to.equal(`#/definitions/${widget}`);
    expect(defs[widgetList].properties.metadata.$ref).to.equal(
      '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta',
    );
    expect(defs[widgetList]['x-kubernetes-group-version-kind']).to.deep.equal([
      { group: 'sample.example.com', kind: 'WidgetList', version: 'v1alpha1' },
    ]);
    expect(
      defs['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'].properties.labels.additionalProperties,
    ).to.deep.equal({ type: 'string' });
  });

  it('v2: operations carry their body, responses and query parameters', () => {
    const paths = (openApiV2([widgetsApi]) as Doc).paths;
    const create = paths[`${base}/namespaces/{namespace}/widgets`].post;
    expect(create.parameters[0]).to.deep.include({ name: 'body', in: 'body', required: true });
    expect(create.parameters[0].schema.$ref).to.equal(`#/definitions/${widget}`);
    expect(Object.keys(create.responses)).to.deep.equal(['200', '201', '202', '401']);
    const list = paths[`${base}/namespaces/{namespace}/widgets`].get;
    expect(list.responses['200'].schema.$ref).to.equal(`#/definitions/${widgetList}`);
    expect(list.parameters.map((p: Doc) => p.name)).to.include.members(['labelSelector', 'fieldSelector', 'watch']);
    const patch = paths[`${base}/namespaces/{namespace}/widgets/{name}`].patch;
    expect(patch.consumes).to.include('application/apply-patch+yaml');
    const shared = paths[`${base}/namespaces/{namespace}/widgets/{name}`].parameters.map((p: Doc) => p.name);
    expect(shared).to.deep.equal(['namespace', 'name', 'pretty']);
  });

  it('v3: one document per group version, components.schemas, allOf-wrapped metadata, all $refs resolve', () => {
    const doc = openApiV3(widgetsApi, 'v1alpha1') as Doc;
    expect(doc.openapi).to.equal('3.0.0');
    expect(operationsOf(doc, `${base}/namespaces`)).to.deep.include({
      [`${base}/namespaces/{namespace}/widgets`]: expectedWidgetOperations[`${base}/namespaces/{namespace}/widgets`],
    });
    const schemas = doc.components.schemas;
    expect(schemas[widget].properties.metadata.allOf).to.deep.equal([
      { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' },
    ]);
    const unresolved = refs(doc).filter(({ ref }) => !(ref.replace('#/components/schemas/', '') in schemas));
    expect(unresolved).to.deep.equal([]);
    const create = doc.paths[`${base}/namespaces/{namespace}/widgets`].post;
    expect(create.requestBody.content['application/json'].schema.$ref).to.equal(`#/components/schemas/${widget}`);
    expect(() => openApiV3(widgetsApi, 'v9')).to.throw(RangeError);
  });

  it("a resource's patchTypes are its PATCH consumes (default all four, as Go's built-in types); bad ones refused", () => {
    const crdLike = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
    const [version] = widgetsApi.versions;
    const api: ApiGroupDefinition = {
      ...widgetsApi,
      versions: [
        { ...version!, resources: version!.resources.map((r) => ({ ...r, patchTypes: crdLike }) as typeof r) },
      ],
    };
    const item = `${base}/namespaces/{namespace}/widgets/{name}`;
    const v2 = openApiV2([api]) as Doc;
    expect(v2.paths[item].patch.consumes).to.deep.equal(crdLike);
    expect(v2.paths[`${item}/status`].patch.consumes).to.deep.equal(crdLike);
    expect(Object.keys((openApiV3(api, 'v1alpha1') as Doc).paths[item].patch.requestBody.content)).to.deep.equal(
      crdLike,
    );
    expect((openApiV2([widgetsApi]) as Doc).paths[item].patch.consumes).to.include(
      'application/strategic-merge-patch+json',
    );
    const bad = {
      ...api,
      versions: [{ ...version!, resources: [{ ...version!.resources[0]!, patchTypes: ['text/x-diff'] }] }],
    };
    expect(() => openApiEndpoints([bad as ApiGroupDefinition])).to.throw(/patchTypes must be some of/);
    const none = { ...api, versions: [{ ...version!, resources: [{ ...version!.resources[0]!, patchTypes: [] }] }] };
    expect(() => openApiEndpoints([none as ApiGroupDefinition])).to.throw(/patchTypes must be some of/);
  });

  it("the group version's APIResourceList path, info.description, and no List kind for a create-only resource", () => {
    const api: ApiGroupDefinition = {
      name: 'review.example.com',
      versions: [
        {
          version: 'v1',
          resources: [{ name: 'checks', singularName: 'check', kind: 'Check', namespaced: false, verbs: ['create'] }],
        },
      ],
    };
    const v2 = openApiV2([api], { description: 'Kept in memory.' }) as Doc;
    expect(v2.info).to.deep.equal({
      title: 'kube-delegated-auth extension apiserver',
      description: 'Kept in memory.',
      version: 'v1',
    });
    const list = v2.paths['/apis/review.example.com/v1/'].get;
    expect(list).to.deep.include({ operationId: 'getReviewExampleComV1APIResources', tags: ['reviewExampleCom_v1'] });
    expect(list.responses['200'].schema.$ref).to.equal(
      '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList',
    );
    expect(v2.definitions).to.have.property('com.example.review.v1.Check');
    expect(v2.definitions).to.not.have.property('com.example.review.v1.CheckList');
    const v3 = openApiV3(api, 'v1') as Doc;
    expect(
      v3.paths['/apis/review.example.com/v1/'].get.responses['200'].content['application/json'].schema.$ref,
    ).to.equal('#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList');
    for (const doc of [v2, v3]) {
      const defs = doc.definitions ?? doc.components.schemas;
      const prefix = doc.definitions ? '#/definitions/' : '#/components/schemas/';
      expect(refs(doc).filter(({ ref }) => !(ref.replace(prefix, '') in defs))).to.deep.equal([]);
    }
    expect((openApiV2([widgetsApi]) as Doc).info).to.not.have.property('description');
  });

  it('names definitions as CRDs do (the group reversed)', () => {
    expect(definitionName('sample.example.com', 'v1', 'Widget')).to.equal('com.example.sample.v1.Widget');
  });
});

describe('apiserver/openapi: endpoints', () => {
  const other: ApiGroupDefinition = {
    name: 'other.example.com',
    versions: [
      {
        version: 'v1',
        resources: [{ name: 'things', singularName: 'thing', kind: 'Thing', namespaced: false, verbs: ['get'] }],
      },
    ],
  };
  let srv: BlockServer;
  let dir: string;
  before(async () => {
    srv = await startBlockServer(discoveryEndpoints([widgetsApi, other]), openApiEndpoints([widgetsApi, other]));
    dir = mkdtempSync(join(tmpdir(), 'kda-openapi-'));
    writeFileSync(join(dir, 'ca.crt'), testPki().servingCA.certPem);
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('/openapi/v2: JSON with an ETag; If-None-Match gives 304', async () => {
    const res = await srv.get('/openapi/v2', { accept: 'application/json' });
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('application/json');
    const doc = JSON.parse(res.body);
    expect(Object.keys(doc.paths)).to.include('/apis/other.example.com/v1/things/{name}');
    expect(doc.definitions).to.have.property(widget);
    const again = await srv.get('/openapi/v2', { 'if-none-match': res.headers.etag as string });
    expect([again.status, again.body]).to.deep.equal([304, '']);
  });

  it('/openapi/v3: the index points at each group version with its hash; the hashed URL is immutable', async () => {
    const index = JSON.parse((await srv.get('/openapi/v3')).body);
    expect(Object.keys(index.paths)).to.deep.equal(['apis/sample.example.com/v1alpha1', 'apis/other.example.com/v1']);
    const url: string = index.paths['apis/sample.example.com/v1alpha1'].serverRelativeURL;
    expect(url).to.match(/^\/openapi\/v3\/apis\/sample\.example\.com\/v1alpha1\?hash=[0-9A-F]{128}$/);
    const hashed = await srv.get(url);
    expect(hashed.status).to.equal(200);
    expect(hashed.headers['cache-control']).to.equal('public, immutable');
    expect(hashed.headers.vary).to.equal('Accept');
    expect(JSON.parse(hashed.body).components.schemas).to.have.property(widget);
    expect(hashed.headers.etag).to.equal(`"${url.split('hash=')[1]}"`);
    const plain = await srv.get('/openapi/v3/apis/sample.example.com/v1alpha1');
    expect(plain.headers['cache-control']).to.equal(undefined);
    expect(plain.body).to.equal(hashed.body);
  });

  it('an old hash is a 301 to the current one, as kube-openapi answers', async () => {
    const res = await srv.get('/openapi/v3/apis/other.example.com/v1?hash=DEADBEEF');
    expect(res.status).to.equal(301);
    expect(res.headers.location).to.match(/^\/openapi\/v3\/apis\/other\.example\.com\/v1\?hash=[0-9A-F]{128}$/);
  });

  it('protobuf-only Accept: 406 Status (JSON only); POST: 405; unknown group versions fall through', async () => {
    const pb = await srv.get('/openapi/v2', { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' });
    expect(pb.status).to.equal(406);
    expect(JSON.parse(pb.body)).to.include({ kind: 'Status', reason: 'NotAcceptable' });
    expect((await srv.get('/openapi/v2', { accept: 'application/json;q=0,*/*;q=0' })).status).to.equal(406);
    expect((await srv.get('/openapi/v3', {}, 'POST')).status).to.equal(405);
    for (const path of ['/openapi/v3/apis/nope.example.com/v1', '/openapi/v3/', '/openapi', '/openapi/v1']) {
      expect((await srv.get(path)).headers['x-fallthrough'], path).to.equal('true');
    }
  });

  it('the real kubectl explains widgets.spec and the typed metadata from the server (v3)', async function () {
    this.timeout(60_000);
    const kubectl = kubectlPath();
    // A token user: without any credential kubectl prompts for a username on an https server. The blocks ignore it.
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: srv.url, 'certificate-authority': join(dir, 'ca.crt') } }],
        users: [{ name: 'u', user: { token: 'not-checked' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    // A cache of its own: kubectl keeps discovery per host:port for hours, and the kernel reuses ports, so a shared
    // ~/.kube/cache can hold another server's resources for this URL (seen: the sample's group instead of ours).
    const args = ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'kube-cache')];
    const spec = await run(kubectl, [...args, 'explain', 'widgets.spec']);
    expect(spec.stdout).to.include('KIND:       Widget');
    expect(spec.stdout).to.include('VERSION:    v1alpha1');
    expect(spec.stdout).to.match(/size\s+<integer> -required-/);
    expect(spec.stdout).to.include('How big, in units.');
    const meta = await run(kubectl, [...args, 'explain', 'wd.metadata.labels']);
    expect(meta.stdout).to.match(/FIELD: labels <map\[string\]string>/);
    const list = await run(kubectl, [...args, 'api-resources', '--api-group', 'sample.example.com', '-o', 'wide']);
    expect(list.stdout).to.match(
      /widgets\s+wd\s+sample\.example\.com\/v1alpha1\s+true\s+Widget\s+create,delete,deletecollection,get,list,patch,update,watch\s+all/,
    );
  });
});
