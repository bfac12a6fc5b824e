import assert from 'node:assert/strict';
import type { ConformanceCase, ConformanceContext } from '../types.js';
import { editorClient, eventually, gvPath, shortId, testIdentities } from './support.js';

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}
interface ApiServiceObject {
  spec: {
    group: string;
    version: string;
    caBundle?: string;
    insecureSkipTLSVerify?: boolean;
    service?: { name: string; namespace: string; port?: number };
  };
  status?: { conditions?: Condition[] };
}

const apiServicePath = (ctx: ConformanceContext) =>
  `/apis/apiregistration.k8s.io/v1/apiservices/${ctx.names.apiServiceName}`;

async function allowed(ctx: ConformanceContext, attrs: Record<string, string>): Promise<boolean> {
  const ns = ctx.names.namespace;
  const res = await ctx.admin.create<{ status: { allowed: boolean } }>(
    '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: ctx.serverIdentity,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
        resourceAttributes: attrs,
      },
    },
  );
  return res.status.allowed;
}

// Upstream's "Should be able to support the 1.17 Sample API Server using the current Aggregator", step by step.
export const aggregatorCases: readonly ConformanceCase[] = [
  {
    name: 'identity: ServiceAccount with system:auth-delegator and extension-apiserver-authentication-reader in kube-system',
    setup: true,
    async run(ctx) {
      const started = await ctx.deployServer();
      const checks: readonly [string, Record<string, string>, boolean][] = [
        ['create tokenreviews', { group: 'authentication.k8s.io', resource: 'tokenreviews', verb: 'create' }, true],
        [
          'create subjectaccessreviews',
          { group: 'authorization.k8s.io', resource: 'subjectaccessreviews', verb: 'create' },
          true,
        ],
        [
          'get kube-system/extension-apiserver-authentication',
          {
            namespace: 'kube-system',
            resource: 'configmaps',
            verb: 'get',
            name: 'extension-apiserver-authentication',
          },
          true,
        ],
        // A list/watch with fieldSelector=metadata.name=<name> is authorized as that name (RequestInfo).
        ...(['list', 'watch'] as const).map((verb): [string, Record<string, string>, boolean] => [
          `${verb} kube-system/extension-apiserver-authentication`,
          { namespace: 'kube-system', resource: 'configmaps', verb, name: 'extension-apiserver-authentication' },
          true,
        ]),
        // The reader Role is narrow: other ConfigMaps stay unreadable.
        [
          'get kube-system/some-other-configmap',
          { namespace: 'kube-system', resource: 'configmaps', verb: 'get', name: 'kube-proxy' },
          false,
        ],
        ['list secrets in kube-system', { namespace: 'kube-system', resource: 'secrets', verb: 'list' }, false],
      ];
      for (const [what, attrs, expected] of checks) {
        assert.equal(
          await allowed(ctx, attrs),
          expected,
          `${ctx.serverIdentity} ${what}: expected allowed=${expected}`,
        );
      }
      return started;
    },
  },
  {
    name: 'APIService with caBundle (not insecureSkipTLSVerify) and a Service port different from the server port',
    setup: true,
    async run(ctx) {
      const how = await ctx.registerApiService();
      const api = await ctx.admin.get<ApiServiceObject>(apiServicePath(ctx));
      assert.equal(api.spec.insecureSkipTLSVerify ?? false, false, 'insecureSkipTLSVerify must not be set');
      assert.ok(api.spec.caBundle, 'spec.caBundle is empty');
      assert.equal(
        Buffer.from(api.spec.caBundle, 'base64').toString(),
        ctx.servingCaPem,
        'caBundle is not the serving CA',
      );
      const { servicePort, serverPort } = ctx.ports();
      assert.equal(api.spec.service?.port, servicePort);
      assert.notEqual(servicePort, serverPort, 'the Service port must differ from the server port');
      return how;
    },
  },
  {
    name: 'APIService becomes Available; kube-apiserver serves the group (tolerating 403/503/404 for a bounded time)',
    setup: true,
    async run(ctx) {
      const seen = new Map<number, number>();
      const t0 = Date.now();
      await eventually(
        `GET ${gvPath(ctx)} through kube-apiserver to answer 200`,
        async () => {
          const res = await ctx.admin.request('GET', gvPath(ctx));
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          if (res.status === 200) return true;
          // Upstream's wait tolerates these while the aggregator and RBAC catch up; anything else is a failure.
          if (![403, 503, 404].includes(res.status)) {
            throw Object.assign(new Error(`unexpected HTTP ${res.status}: ${res.text.slice(0, 300)}`), { fatal: true });
          }
          return undefined;
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      const api = await ctx.admin.get<ApiServiceObject>(apiServicePath(ctx));
      const available = api.status?.conditions?.find((c) => c.type === 'Available');
      assert.equal(available?.status, 'True', `Available condition: ${JSON.stringify(available)}`);
      const tolerated = [...seen].filter(([s]) => s !== 200).map(([s, n]) => `${s}x${n}`);
      return `after ${((Date.now() - t0) / 1000).toFixed(1)}s${tolerated.length ? ` (tolerated ${tolerated.join(', ')})` : ''}`;
    },
  },
  {
    name: 'APIService status says all checks passed',
    async run(ctx) {
      const api = await ctx.admin.get<ApiServiceObject>(apiServicePath(ctx));
      const available = api.status?.conditions?.find((c) => c.type === 'Available');
      assert.deepEqual(
        { status: available?.status, reason: available?.reason, message: available?.message },
        { status: 'True', reason: 'Passed', message: 'all checks passed' },
      );
    },
  },
  {
    name: 'discovery through kube-apiserver lists the group and the widgets resource',
    async run(ctx) {
      const list = await ctx.admin.get<{
        groupVersion: string;
        resources: { name: string; namespaced: boolean; kind: string; verbs: string[] }[];
      }>(gvPath(ctx));
      assert.equal(list.groupVersion, `${ctx.names.group}/${ctx.names.version}`);
      const widgets = list.resources.find((r) => r.name === 'widgets');
      assert.ok(widgets, `widgets missing from ${JSON.stringify(list.resources.map((r) => r.name))}`);
      assert.equal(widgets.namespaced, true);
      assert.equal(widgets.kind, 'Widget');
      for (const v of ['create', 'get', 'list', 'delete']) assert.ok(widgets.verbs.includes(v), `verb ${v} missing`);
      const groups = await ctx.admin.get<{ groups: { name: string; preferredVersion: { version: string } }[] }>(
        '/apis',
      );
      const g = groups.groups.find((x) => x.name === ctx.names.group);
      assert.ok(g, `/apis does not list ${ctx.names.group}`);
      assert.equal(g.preferredVersion.version, ctx.names.version);
      const group = await ctx.admin.get<{ name: string }>(`/apis/${ctx.names.group}`);
      assert.equal(group.name, ctx.names.group);
    },
  },
  {
    name: "the aggregator's own discovery and OpenAPI calls succeed (/openapi/v2 includes the group, /apis lists it)",
    async run(ctx) {
      const widgetsPath = `${gvPath(ctx)}/namespaces/{namespace}/widgets`;
      // kube-apiserver downloads /openapi/v2 from the server as system:aggregator and merges it in the background.
      const t0 = Date.now();
      await eventually(
        `kube-apiserver /openapi/v2 to include ${widgetsPath}`,
        async () => {
          const res = await ctx.admin.request<{ paths?: Record<string, unknown> }>('GET', '/openapi/v2');
          if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
          return res.body.paths && widgetsPath in res.body.paths ? true : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 1000 },
      );
      const apis = await ctx.admin.get<{ groups: { name: string }[] }>('/apis');
      assert.ok(
        apis.groups.some((g) => g.name === ctx.names.group),
        '/apis does not list the group',
      );
      return `OpenAPI merged after ${((Date.now() - t0) / 1000).toFixed(1)}s`;
    },
  },
  {
    name: 'create, get, list and delete widgets through kube-apiserver (as an RBAC-bound user, not system:masters)',
    async run(ctx) {
      const ids = await testIdentities(ctx);
      const kube = editorClient(ctx, ids);
      const ns = ctx.names.testNamespace;
      const name = `conformance-${shortId()}`;
      const coll = `${gvPath(ctx)}/namespaces/${ns}/widgets`;
      const created = await kube.create<{ metadata: { name: string; namespace: string; uid?: string } }>(coll, {
        apiVersion: `${ctx.names.group}/${ctx.names.version}`,
        kind: 'Widget',
        metadata: { name },
        spec: { color: 'blue' },
      });
      assert.equal(created.metadata.name, name);
      assert.equal(created.metadata.namespace, ns);
      const got = await kube.get<{ metadata: { name: string }; spec: { color: string } }>(`${coll}/${name}`);
      assert.deepEqual(got.spec, { color: 'blue' });
      const list = await kube.get<{ kind: string; items: { metadata: { name: string } }[] }>(coll);
      assert.equal(list.kind, 'WidgetList');
      assert.ok(
        list.items.some((w) => w.metadata.name === name),
        'created widget missing from the list',
      );
      const dup = await kube.request('POST', coll, {
        body: { apiVersion: `${ctx.names.group}/${ctx.names.version}`, kind: 'Widget', metadata: { name } },
      });
      assert.equal(dup.status, 409, `second create: ${dup.text}`);
      assert.equal(await kube.delete(`${coll}/${name}`), true);
      const gone = await kube.request<{ reason?: string }>('GET', `${coll}/${name}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.reason, 'NotFound');
    },
  },
];
