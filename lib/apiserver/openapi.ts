// OpenAPI v2 (/openapi/v2) and v3 (/openapi/v3, /openapi/v3/apis/<group>/<version>) documents for a user's resources,
// shaped as kube-apiserver shapes its own: one path per verb (list, create, deletecollection, get, replace, patch,
// delete, watch), the List kinds, typed `metadata`, `x-kubernetes-group-version-kind`, so `kubectl explain` works
// and the aggregator merges the v2 document into the cluster's.
import { createHash } from 'node:crypto';
import { goJson, statusFailure, type HttpResponse } from '../http/status.js';
import { splitUrl, type BlockHandler } from './handler.js';
import { metaDefinitions, metaName } from './openapi-meta.js';
import { buildPaths, definitionName, refOf, type Style } from './openapi-paths.js';
import {
  listKindOf,
  validateApiGroups,
  type ApiGroupDefinition,
  type ApiResourceDefinition,
  type ApiVersionDefinition,
  type JsonSchema,
} from './resources.js';

export { definitionName } from './openapi-paths.js';

/** Options of the OpenAPI builders. */
export interface OpenApiOptions {
  /** `info.title`. Default `kube-delegated-auth extension apiserver`. */
  readonly title?: string;
  /** `info.version`. Default the first group's preferred version. */
  readonly version?: string;
  /** `info.description`, e.g. what a reader of the merged document should know about this server. Default none. */
  readonly description?: string;
}

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
  // The List kind only when something returns it (a create-only review resource has none, as in kube-apiserver).
  const listed = r.verbs.some((v) => v === 'list' || v === 'watch' || v === 'deletecollection');
  return listed ? { [name]: object, [definitionName(group, version, listKindOf(r))]: list } : { [name]: object };
}

function buildSchemas(style: Style, group: string, gv: ApiVersionDefinition): Record<string, JsonSchema> {
  const schemas: Record<string, JsonSchema> = { ...metaDefinitions(refOf(style)) };
  for (const r of gv.resources) Object.assign(schemas, kindSchemas(style, group, gv.version, r));
  return Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function info(groups: readonly ApiGroupDefinition[], options: OpenApiOptions) {
  return {
    title: options.title ?? 'kube-delegated-auth extension apiserver',
    ...(options.description !== undefined && { description: options.description }),
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
