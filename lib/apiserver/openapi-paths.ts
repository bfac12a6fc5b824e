// The paths of kube-delegated-auth/apiserver's OpenAPI documents: for each resource, the operations kube-apiserver
// lists for its verbs (list, create, deletecollection, read, replace, patch, delete, the /watch/ paths, the
// all-namespaces list, subresources), with Go's operation IDs, x-kubernetes-action and parameters, in v2 or v3 style.
import { listQuery, metaName, patchTypes, queryParameters, writeQuery } from './openapi-meta.js';
import { listKindOf, type ApiResourceDefinition, type ApiVersionDefinition, type JsonSchema } from './resources.js';

/** The name a kind's schema has in the documents: the group reversed, as CRDs name theirs (`com.example.v1.Widget`). */
export function definitionName(group: string, version: string, kind: string): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

export type Style = 'v2' | 'v3';
export const refOf = (style: Style) => (name: string) =>
  style === 'v2' ? { $ref: `#/definitions/${name}` } : { $ref: `#/components/schemas/${name}` };

/** Go's operation-ID spelling of a group version: `sample.example.com/v1alpha1` → `SampleExampleComV1alpha1`. */
function camelGroupVersion(group: string, version: string): string {
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return group.split(/[.-]/).map(cap).join('') + cap(version);
}

interface Operation {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  readonly operationId: string;
  readonly action: string;
  readonly description: string;
  readonly response: string;
  readonly body?: string;
  readonly query: readonly string[];
  readonly created?: boolean;
  /** PATCH: the media types accepted (`consumes`). */
  readonly patchTypes?: readonly string[];
}

/** Every path of one resource, by the verbs it serves (watch adds the /watch/ paths, as kube-apiserver lists them). */
function resourcePaths(group: string, gv: ApiVersionDefinition, r: ApiResourceDefinition) {
  const version = gv.version;
  const base = `/apis/${group}/${version}`;
  const scope = r.namespaced ? '/namespaces/{namespace}' : '';
  const n = r.namespaced ? 'Namespaced' : '';
  const id = camelGroupVersion(group, version);
  const obj = definitionName(group, version, r.kind);
  const list = definitionName(group, version, listKindOf(r));
  const status = metaName('Status');
  const has = (v: string) => r.verbs.includes(v as never);
  const paths: Record<string, { ops: Operation[]; params: string[] }> = {};
  const add = (path: string, params: string[], op: Operation) => {
    (paths[path] ??= { ops: [], params }).ops.push(op);
  };
  const collection = `${base}${scope}/${r.name}`;
  const item = `${collection}/{name}`;
  const scopeParams = r.namespaced ? ['namespace'] : [];
  const K = r.kind;
  if (has('list'))
    add(collection, scopeParams, {
      method: 'get',
      operationId: `list${id}${n}${K}`,
      action: 'list',
      description: `list or watch objects of kind ${K}`,
      response: list,
      query: listQuery,
    });
  if (has('create'))
    add(collection, scopeParams, {
      method: 'post',
      operationId: `create${id}${n}${K}`,
      action: 'post',
      description: `create a ${K}`,
      response: obj,
      body: obj,
      query: writeQuery,
      created: true,
    });
  if (has('deletecollection'))
    add(collection, scopeParams, {
      method: 'delete',
      operationId: `delete${id}Collection${n}${K}`,
      action: 'deletecollection',
      description: `delete collection of ${K}`,
      response: status,
      body: metaName('DeleteOptions'),
      query: [
        ...listQuery.filter((q) => q !== 'watch' && q !== 'allowWatchBookmarks'),
        'dryRun',
        'gracePeriodSeconds',
        'propagationPolicy',
      ],
    });
  if (has('get'))
    add(item, [...scopeParams, 'name'], {
      method: 'get',
      operationId: `read${id}${n}${K}`,
      action: 'get',
      description: `read the specified ${K}`,
      response: obj,
      query: [],
    });
  if (has('update'))
    add(item, [...scopeParams, 'name'], {
      method: 'put',
      operationId: `replace${id}${n}${K}`,
      action: 'put',
      description: `replace the specified ${K}`,
      response: obj,
      body: obj,
      query: writeQuery,
      created: true,
    });
  if (has('patch'))
    add(item, [...scopeParams, 'name'], {
      method: 'patch',
      operationId: `patch${id}${n}${K}`,
      action: 'patch',
      description: `partially update the specified ${K}`,
      response: obj,
      body: metaName('Patch'),
      query: [...writeQuery, 'force'],
      created: true,
      patchTypes: r.patchTypes ?? patchTypes,
    });
  if (has('delete'))
    add(item, [...scopeParams, 'name'], {
      method: 'delete',
      operationId: `delete${id}${n}${K}`,
      action: 'delete',
      description: `delete a ${K}`,
      response: status,
      body: metaName('DeleteOptions'),
      query: ['dryRun', 'gracePeriodSeconds', 'propagationPolicy'],
    });
  if (has('watch')) {
    const watchEvent = metaName('WatchEvent');
    add(`${base}/watch${scope}/${r.name}`, scopeParams, {
      method: 'get',
      operationId: `watch${id}${n}${K}List`,
      action: 'watchlist',
      description: `watch individual changes to a list of ${K}. deprecated: use the 'watch' parameter with a list operation instead.`,
      response: watchEvent,
      query: listQuery,
    });
    add(`${base}/watch${scope}/${r.name}/{name}`, [...scopeParams, 'name'], {
      method: 'get',
      operationId: `watch${id}${n}${K}`,
      action: 'watch',
      description: `watch changes to an object of kind ${K}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.`,
      response: watchEvent,
      query: listQuery,
    });
  }
  if (r.namespaced && has('list'))
    add(`${base}/${r.name}`, [], {
      method: 'get',
      operationId: `list${id}${K}ForAllNamespaces`,
      action: 'list',
      description: `list or watch objects of kind ${K}`,
      response: list,
      query: listQuery,
    });
  if (r.namespaced && has('watch'))
    add(`${base}/watch/${r.name}`, [], {
      method: 'get',
      operationId: `watch${id}${K}ListForAllNamespaces`,
      action: 'watchlist',
      description: `watch individual changes to a list of ${K}. deprecated: use the 'watch' parameter with a list operation instead.`,
      response: metaName('WatchEvent'),
      query: listQuery,
    });
  for (const s of r.subresources ?? []) {
    const sub = s.name.charAt(0).toUpperCase() + s.name.slice(1);
    const schema = s.kind === undefined || (s.kind === r.kind && s.group === undefined) ? obj : undefined;
    const target = schema ?? metaName('Patch');
    const subPath = `${item}/${s.name}`;
    const params = [...scopeParams, 'name'];
    if (s.verbs.includes('get'))
      add(subPath, params, {
        method: 'get',
        operationId: `read${id}${n}${K}${sub}`,
        action: 'get',
        description: `read ${s.name} of the specified ${K}`,
        response: target,
        query: [],
      });
    if (s.verbs.includes('update'))
      add(subPath, params, {
        method: 'put',
        operationId: `replace${id}${n}${K}${sub}`,
        action: 'put',
        description: `replace ${s.name} of the specified ${K}`,
        response: target,
        body: target,
        query: writeQuery,
        created: true,
      });
    if (s.verbs.includes('patch'))
      add(subPath, params, {
        method: 'patch',
        operationId: `patch${id}${n}${K}${sub}`,
        action: 'patch',
        description: `partially update ${s.name} of the specified ${K}`,
        response: target,
        body: metaName('Patch'),
        query: [...writeQuery, 'force'],
        created: true,
        patchTypes: r.patchTypes ?? patchTypes,
      });
  }
  return { paths, gvk: { group, version, kind: r.kind } };
}

function pathParameter(style: Style, name: string, kind: string): JsonSchema {
  const description =
    name === 'name' ? `name of the ${kind}` : 'object name and auth scope, such as for teams and projects';
  return style === 'v2'
    ? { name, in: 'path', required: true, type: 'string', uniqueItems: true, description }
    : { name, in: 'path', required: true, schema: { type: 'string', uniqueItems: true }, description };
}

function queryParameter(style: Style, name: string): JsonSchema {
  const p = queryParameters[name]!;
  return style === 'v2'
    ? { name, in: 'query', type: p.type, uniqueItems: true, description: p.description }
    : { name, in: 'query', schema: { type: p.type, uniqueItems: true }, description: p.description };
}

const json = 'application/json';

function operationObject(style: Style, op: Operation, gvk: object, resource: string): JsonSchema {
  const ref = refOf(style);
  const isWatch = op.action.startsWith('watch');
  const produces = isWatch || op.action === 'list' ? [json, 'application/json;stream=watch'] : [json];
  // kube-apiserver's codes: create 200/201/202, replace and patch 200/201, delete 200/202, the rest 200.
  const codes =
    op.action === 'post'
      ? ['200', '201', '202']
      : op.created
        ? ['200', '201']
        : op.action === 'delete'
          ? ['200', '202']
          : ['200'];
  const consumes = op.action === 'patch' ? (op.patchTypes ?? patchTypes) : [json];
  const responseOf = (code: string) => {
    const description = code === '200' ? 'OK' : code === '201' ? 'Created' : 'Accepted';
    return style === 'v2'
      ? { description, schema: ref(op.response) }
      : { description, content: Object.fromEntries(produces.map((t) => [t, { schema: ref(op.response) }])) };
  };
  const responses: Record<string, unknown> = Object.fromEntries(codes.map((c) => [c, responseOf(c)]));
  responses['401'] = { description: 'Unauthorized' };
  const parameters = [...op.query.map((q) => queryParameter(style, q))];
  const common = {
    description: op.description,
    operationId: op.operationId,
    tags: [resource],
    'x-kubernetes-action': op.action,
    'x-kubernetes-group-version-kind': gvk,
  };
  if (style === 'v2') {
    const bodyParam = op.body
      ? [{ name: 'body', in: 'body', required: op.method !== 'delete', schema: ref(op.body) }]
      : [];
    return {
      ...common,
      consumes,
      produces,
      schemes: ['https'],
      parameters: [...bodyParam, ...parameters],
      responses,
    };
  }
  return {
    ...common,
    ...(parameters.length > 0 && { parameters }),
    ...(op.body && {
      requestBody: {
        content: Object.fromEntries(consumes.map((t) => [t, { schema: ref(op.body!) }])),
        ...(op.method !== 'delete' && { required: true }),
      },
    }),
    responses,
  };
}

/** `/apis/<group>/<version>/`: the APIResourceList, as kube-apiserver lists it (`get<GroupVersion>APIResources`). */
function resourceListPath(style: Style, group: string, version: string): Record<string, unknown> {
  const list = refOf(style)(metaName('APIResourceList'));
  const produces = ['application/json'];
  const ok =
    style === 'v2'
      ? { description: 'OK', schema: list }
      : { description: 'OK', content: Object.fromEntries(produces.map((t) => [t, { schema: list }])) };
  const tag = `${group
    .split(/[.-]/)
    .map((p, i) => (i === 0 ? p : p.charAt(0).toUpperCase() + p.slice(1)))
    .join('')}_${version}`;
  const get = {
    description: 'get available resources',
    operationId: `get${camelGroupVersion(group, version)}APIResources`,
    tags: [tag],
    ...(style === 'v2' && { consumes: produces, produces, schemes: ['https'] }),
    responses: { '200': ok, '401': { description: 'Unauthorized' } },
  };
  return { get };
}

export function buildPaths(style: Style, group: string, gv: ApiVersionDefinition): Record<string, unknown> {
  const out: Record<string, unknown> = {
    [`/apis/${group}/${gv.version}/`]: resourceListPath(style, group, gv.version),
  };
  for (const r of gv.resources) {
    const { paths, gvk } = resourcePaths(group, gv, r);
    for (const [path, { ops, params }] of Object.entries(paths)) {
      const item: Record<string, unknown> = {
        parameters: [...params.map((p) => pathParameter(style, p, r.kind)), queryParameter(style, 'pretty')],
      };
      for (const op of ops) item[op.method] = operationObject(style, op, gvk, r.name);
      out[path] = item;
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
