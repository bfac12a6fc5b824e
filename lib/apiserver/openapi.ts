// OpenAPI v2 (/openapi/v2) and v3 (/openapi/v3, /openapi/v3/apis/<group>/<version>) documents for a user's resources,
// shaped as kube-apiserver shapes its own: one path per verb (list, create, deletecollection, get, replace, patch,
// delete, watch), the List kinds, typed `metadata`, `x-kubernetes-group-version-kind`, so `kubectl explain` works
// and the aggregator merges the v2 document into the cluster's.
import { createHash } from 'node:crypto';
import { goJson, statusFailure, type HttpResponse } from '../http/status.js';
import { splitUrl, type BlockHandler } from './handler.js';
import { metaDefinitions, metaName } from './openapi-meta.js';
import {
  listKindOf,
  validateApiGroups,
  type ApiGroupDefinition,
  type ApiResourceDefinition,
  type ApiVersionDefinition,
  type JsonSchema,
} from './resources.js';

/** Options of the OpenAPI builders. */
export interface OpenApiOptions {
  /** `info.title`. Default `kube-delegated-auth extension apiserver`. */
  readonly title?: string;
  /** `info.version`. Default the first group's preferred version. */
  readonly version?: string;
}

/** The name a kind's schema has in the documents: the group reversed, as CRDs name theirs (`com.example.v1.Widget`). */
export function definitionName(group: string, version: string, kind: string): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

type Style = 'v2' | 'v3';
const refOf = (style: Style) => (name: string) =>
  style === 'v2' ? { $ref: `#/definitions/${name}` } : { $ref: `#/components/schemas/${name}` };

/** A `metadata`-style property: v3 wraps the reference in allOf (siblings of $ref are ignored), as kube-apiserver does. */
function typedProperty(style: Style, name: string, description: string): JsonSchema {
  return style === 'v2'
    ? { ...refOf(style)(name), description }
    : { allOf: [refOf(style)(name)], default: {}, description };
}

const apiVersionProperty = {
  type: 'string',
  description:
    'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.',
};
const kindProperty = {
  type: 'string',
  description:
    'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase.',
};

function kindSchemas(
  style: Style,
  group: string,
  version: string,
  r: ApiResourceDefinition,
): Record<string, JsonSchema> {
  const user = r.schema ?? { type: 'object' };
  const userProperties = (user.properties ?? {}) as Record<string, unknown>;
  const gvk = (kind: string) => [{ group, kind, version }];
  const name = definitionName(group, version, r.kind);
  const object: JsonSchema = {
    ...user,
    type: 'object',
    ...(r.description !== undefined && { description: r.description }),
    properties: {
      apiVersion: apiVersionProperty,
      kind: kindProperty,
      metadata: typedProperty(style, metaName('ObjectMeta'), "Standard object's metadata."),
      ...userProperties,
    },
    'x-kubernetes-group-version-kind': gvk(r.kind),
  };
  const list: JsonSchema = {
    type: 'object',
    description: `${listKindOf(r)} is a list of ${r.kind}.`,
    required: ['items'],
    properties: {
      apiVersion: apiVersionProperty,
      items: { type: 'array', description: `List of ${r.name}.`, items: refOf(style)(name) },
      kind: kindProperty,
      metadata: typedProperty(style, metaName('ListMeta'), 'Standard list metadata.'),
    },
    'x-kubernetes-group-version-kind': gvk(listKindOf(r)),
  };
  return { [name]: object, [definitionName(group, version, listKindOf(r))]: list };
}

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
}

const listQuery = [
  'allowWatchBookmarks',
  'continue',
  'fieldSelector',
  'labelSelector',
  'limit',
  'resourceVersion',
  'resourceVersionMatch',
  'sendInitialEvents',
  'timeoutSeconds',
  'watch',
];
const writeQuery = ['dryRun', 'fieldManager', 'fieldValidation'];

const queryParameters: Record<string, { type: string; description: string }> = {
  allowWatchBookmarks: {
    type: 'boolean',
    description: 'allowWatchBookmarks requests watch events with type "BOOKMARK".',
  },
  continue: {
    type: 'string',
    description: 'The continue option should be set when retrieving more results from the server.',
  },
  fieldSelector: {
    type: 'string',
    description: 'A selector to restrict the list of returned objects by their fields.',
  },
  labelSelector: {
    type: 'string',
    description: 'A selector to restrict the list of returned objects by their labels.',
  },
  limit: { type: 'integer', description: 'limit is a maximum number of responses to return for a list call.' },
  resourceVersion: {
    type: 'string',
    description: 'resourceVersion sets a constraint on what resource versions a request may be served from.',
  },
  resourceVersionMatch: {
    type: 'string',
    description: 'resourceVersionMatch determines how resourceVersion is applied to list calls.',
  },
  sendInitialEvents: { type: 'boolean', description: 'sendInitialEvents=true may be set together with watch=true.' },
  timeoutSeconds: { type: 'integer', description: 'Timeout for the list/watch call.' },
  watch: {
    type: 'boolean',
    description:
      'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.',
  },
  dryRun: { type: 'string', description: 'When present, indicates that modifications should not be persisted.' },
  fieldManager: {
    type: 'string',
    description: 'fieldManager is a name associated with the actor or entity that is making these changes.',
  },
  fieldValidation: {
    type: 'string',
    description: 'Ignore, Warn or Strict: how the server treats unknown or duplicate fields.',
  },
  force: { type: 'boolean', description: 'Force is going to "force" Apply requests.' },
  gracePeriodSeconds: { type: 'integer', description: 'The duration in seconds before the object should be deleted.' },
  propagationPolicy: {
    type: 'string',
    description: "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'.",
  },
  pretty: { type: 'string', description: "If 'true', then the output is pretty printed." },
};

const patchTypes = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
];

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
  const consumes = op.action === 'patch' ? patchTypes : [json];
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

function buildPaths(style: Style, group: string, gv: ApiVersionDefinition): Record<string, unknown> {
  const out: Record<string, unknown> = {};
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

function buildSchemas(style: Style, group: string, gv: ApiVersionDefinition): Record<string, JsonSchema> {
  const schemas: Record<string, JsonSchema> = { ...metaDefinitions(refOf(style)) };
  for (const r of gv.resources) Object.assign(schemas, kindSchemas(style, group, gv.version, r));
  return Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function info(groups: readonly ApiGroupDefinition[], options: OpenApiOptions) {
  return {
    title: options.title ?? 'kube-delegated-auth extension apiserver',
    version: options.version ?? groups[0]!.versions[0]!.version,
  };
}

/** kube-apiserver's bearer-token security scheme (TokenReview is on in cluster mode). */
const bearer = { type: 'apiKey', name: 'authorization', in: 'header', description: 'Bearer Token authentication' };

/** GET /openapi/v2: the Swagger 2.0 document of every group version. */
export function openApiV2(groups: readonly ApiGroupDefinition[], options: OpenApiOptions = {}): object {
  const paths: Record<string, unknown> = {};
  const definitions: Record<string, JsonSchema> = {};
  for (const g of groups) {
    for (const gv of g.versions) {
      Object.assign(paths, buildPaths('v2', g.name, gv));
      Object.assign(definitions, buildSchemas('v2', g.name, gv));
    }
  }
  return {
    swagger: '2.0',
    info: info(groups, options),
    paths,
    definitions,
    securityDefinitions: { BearerToken: bearer },
    security: [{ BearerToken: [] }],
  };
}

/** GET /openapi/v3/apis/<group>/<version>: the OpenAPI 3.0 document of one group version. */
export function openApiV3(group: ApiGroupDefinition, version: string, options: OpenApiOptions = {}): object {
  const gv = group.versions.find((v) => v.version === version);
  if (!gv) throw new RangeError(`group ${group.name} has no version ${version}`);
  return {
    openapi: '3.0.0',
    info: info([group], options),
    paths: buildPaths('v3', group.name, gv),
    components: { schemas: buildSchemas('v3', group.name, gv), securitySchemes: { BearerToken: bearer } },
    security: [{ BearerToken: [] }],
  };
}

const hashOf = (body: string) => createHash('sha512').update(body).digest('hex').toUpperCase();

/** True when the Accept header takes JSON (absent, `*\/*`, `application/*`, `application/json`). */
function acceptsJson(accept: string | string[] | undefined): boolean {
  const value = Array.isArray(accept) ? accept.join(',') : accept;
  if (value === undefined || value.trim() === '') return true;
  return value.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return (
      ['application/json', 'application/*', '*/*'].includes(type ?? '') && (q === undefined || Number(q.slice(2)) > 0)
    );
  });
}

/**
 * Serves `/openapi/v2`, `/openapi/v3` (the index: `paths["apis/<group>/<version>"].serverRelativeURL` with the
 * document's `?hash=`) and `/openapi/v3/apis/<group>/<version>`, as kube-openapi does: `ETag` and 304 on a matching
 * `If-None-Match`; a v3 document asked with its current hash is `Cache-Control: public, immutable`, with an old hash
 * a 301 to the current one. JSON only: an Accept that excludes JSON (protobuf only) is a 406 `Status`. GET and HEAD.
 */
export function openApiEndpoints(groups: readonly ApiGroupDefinition[], options: OpenApiOptions = {}): BlockHandler {
  validateApiGroups(groups);
  const document = (value: object) => {
    const body = goJson(value) + '\n';
    return { body, hash: hashOf(body) };
  };
  const v2 = document(openApiV2(groups, options));
  const v3 = new Map(
    groups.flatMap((g) =>
      g.versions.map((v) => [`apis/${g.name}/${v.version}`, document(openApiV3(g, v.version, options))]),
    ),
  );
  const index = document({
    paths: Object.fromEntries(
      [...v3].map(([path, doc]) => [path, { serverRelativeURL: `/openapi/v3/${path}?hash=${doc.hash}` }]),
    ),
  });
  const serve = (
    doc: { body: string; hash: string },
    ifNoneMatch: string | string[] | undefined,
    extra = {},
  ): HttpResponse => {
    const etag = `"${doc.hash}"`;
    if (ifNoneMatch === etag) return { status: 304, headers: { etag, ...extra }, body: '' };
    return { status: 200, headers: { 'content-type': 'application/json', etag, ...extra }, body: doc.body };
  };

  return (request) => {
    const { path, query } = splitUrl(request.url);
    let doc: { body: string; hash: string } | undefined;
    let v3Path: string | undefined;
    if (path === '/openapi/v2') doc = v2;
    else if (path === '/openapi/v3') doc = index;
    else if (path.startsWith('/openapi/v3/')) {
      v3Path = path.slice('/openapi/v3/'.length);
      doc = v3.get(v3Path);
    }
    if (doc === undefined) return undefined;
    const method = (request.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      return statusFailure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
    if (!acceptsJson(request.headers.accept)) {
      return statusFailure(406, 'NotAcceptable', 'only the following media types are accepted: application/json');
    }
    const ifNoneMatch = request.headers['if-none-match'];
    const hash = query.get('hash');
    if (v3Path !== undefined && hash !== null && hash !== '') {
      if (hash !== doc.hash) {
        const location = `/openapi/v3/${v3Path}?hash=${doc.hash}`;
        return {
          status: 301,
          headers: { location, 'content-type': 'text/html; charset=utf-8' },
          body: `<a href="${location}">Moved Permanently</a>.\n\n`,
        };
      }
      const expires = new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString();
      return serve(doc, ifNoneMatch, { vary: 'Accept', 'cache-control': 'public, immutable', expires });
    }
    return serve(doc, ifNoneMatch);
  };
}
