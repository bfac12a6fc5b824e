// Discovery documents for a user's API, as Go's apiserver serves them: `APIGroupList` (/apis), `APIGroup`
// (/apis/<group>), `APIResourceList` (/apis/<group>/<version>), and the aggregated `APIGroupDiscoveryList`
// (apidiscovery.k8s.io v2, and v2beta1) on /apis when the Accept header asks for it, as kube-aggregator's discovery
// manager does (`Accept: <v2>,<v2beta1>` with If-None-Match; without an aggregated answer it falls back to
// /apis/<group>/<version>).
import { createHash } from 'node:crypto';
import { goJson, statusFailure, type HttpResponse } from '../http/status.js';
import { splitUrl, type BlockHandler } from './handler.js';
import {
  validateApiGroups,
  type ApiGroupDefinition,
  type ApiResourceDefinition,
  type ApiSubresourceDefinition,
} from './resources.js';

/** The aggregated discovery versions a kube-apiserver asks for, newest first. */
export type AggregatedDiscoveryVersion = 'v2' | 'v2beta1';

/** The Content-Type of an aggregated discovery answer (and what the Accept header must ask for, parameters in order). */
export function aggregatedDiscoveryMediaType(version: AggregatedDiscoveryVersion): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

function groupVersionEntry(group: string, version: string) {
  return { groupVersion: `${group}/${version}`, version };
}

/** metav1.APIGroup without kind/apiVersion, as it appears inside an APIGroupList. */
function groupEntry(g: ApiGroupDefinition) {
  return {
    name: g.name,
    versions: g.versions.map((v) => groupVersionEntry(g.name, v.version)),
    preferredVersion: groupVersionEntry(g.name, g.versions[0]!.version),
  };
}

/** GET /apis: metav1.APIGroupList. */
export function apiGroupList(groups: readonly ApiGroupDefinition[]): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupEntry) };
}

/** GET /apis/<group>: metav1.APIGroup. */
export function apiGroup(group: ApiGroupDefinition): object {
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(group) };
}

/**
 * GET /apis/<group>/<version>: metav1.APIResourceList. Subresources are entries of their own, `widgets/status`, with
 * an empty `singularName` as Go writes them.
 */
export function apiResourceList(group: string, version: string, resources: readonly ApiResourceDefinition[]): object {
  const entries: object[] = [];
  for (const r of resources) {
    entries.push({
      name: r.name,
      singularName: r.singularName,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: [...r.verbs],
      ...(r.shortNames?.length && { shortNames: [...r.shortNames] }),
      ...(r.categories?.length && { categories: [...r.categories] }),
    });
    for (const s of r.subresources ?? []) {
      entries.push({
        name: `${r.name}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
        ...(s.group !== undefined && { group: s.group }),
        ...(s.version !== undefined && { version: s.version }),
        kind: s.kind ?? r.kind,
        verbs: [...s.verbs],
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/${version}`, resources: entries };
}

function responseKind(group: string, version: string, r: ApiResourceDefinition, s?: ApiSubresourceDefinition) {
  return { group: s?.group ?? group, version: s?.version ?? version, kind: s?.kind ?? r.kind };
}

/**
 * GET /apis with the aggregated Accept: apidiscovery.k8s.io `APIGroupDiscoveryList` (v2, or v2beta1: the same
 * fields). Every version is `freshness: Current` (the server describes itself).
 */
export function aggregatedDiscovery(
  groups: readonly ApiGroupDefinition[],
  version: AggregatedDiscoveryVersion = 'v2',
): object {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: groups.map((g) => ({
      metadata: { name: g.name },
      versions: g.versions.map((v) => ({
        version: v.version,
        resources: v.resources.map((r) => ({
          resource: r.name,
          responseKind: responseKind(g.name, v.version, r),
          scope: r.namespaced ? 'Namespaced' : 'Cluster',
          singularResource: r.singularName,
          verbs: [...r.verbs],
          ...(r.shortNames?.length && { shortNames: [...r.shortNames] }),
          ...(r.categories?.length && { categories: [...r.categories] }),
          ...(r.subresources?.length && {
            subresources: r.subresources.map((s) => ({
              subresource: s.name,
              responseKind: responseKind(g.name, v.version, r, s),
              verbs: [...s.verbs],
            })),
          }),
        })),
        freshness: 'Current',
      })),
    })),
  };
}

/** One media range of an Accept header. */
interface MediaRange {
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
  readonly q: number;
}

function parseAccept(accept: string | undefined): MediaRange[] {
  if (accept === undefined || accept.trim() === '') return [{ type: '*/*', params: new Map(), q: 1 }];
  const ranges: MediaRange[] = [];
  for (const part of accept.split(',')) {
    const [type, ...rest] = part.split(';').map((s) => s.trim());
    if (!type) continue;
    const params = new Map<string, string>();
    let q = 1;
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim().toLowerCase();
      const value = p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (key === 'q') q = Number.isFinite(Number(value)) ? Number(value) : 0;
      else params.set(key, value);
    }
    if (q > 0) ranges.push({ type: type.toLowerCase(), params, q });
  }
  // Stable: equal q keeps the client's order, as Go's negotiation does.
  return ranges.sort((a, b) => b.q - a.q);
}

const jsonTypes = new Set(['application/json', 'application/*', '*/*']);

/**
 * What /apis answers for this Accept header: an aggregated version, the plain APIGroupList (`legacy`), or nothing
 * acceptable (406). Ranges that name another group/kind (Table, protobuf, YAML) are skipped, as Go skips them.
 */
export function negotiateDiscovery(accept: string | undefined): AggregatedDiscoveryVersion | 'legacy' | undefined {
  for (const range of parseAccept(accept)) {
    if (!jsonTypes.has(range.type)) continue;
    const g = range.params.get('g');
    const v = range.params.get('v');
    const as = range.params.get('as');
    if (g === undefined && v === undefined && as === undefined) return 'legacy';
    if (g === 'apidiscovery.k8s.io' && as === 'APIGroupDiscoveryList' && (v === 'v2' || v === 'v2beta1')) {
      // `profile=nopeer` (peer-aggregated discovery) is the same document from a server without peers.
      return v;
    }
  }
  return undefined;
}

function json(status: number, body: object, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: goJson(body) + '\n' };
}

const etagOf = (body: string) => `"${createHash('sha512').update(body).digest('hex').toUpperCase()}"`;

/**
 * Serves `/apis`, `/apis/<group>` and `/apis/<group>/<version>` for the groups (GET and HEAD; other methods 405).
 * Each also with one trailing slash, as Go's routes. `/apis` answers by the Accept header: the aggregated
 * `APIGroupDiscoveryList` (v2 or v2beta1) with its Content-Type, an `ETag` and 304 on a matching `If-None-Match`
 * (the aggregator re-asks every minute), otherwise the `APIGroupList`; `Vary: Accept` on both; 406 `Status` when
 * nothing acceptable is asked. Paths below a version (`/apis/<group>/<version>/namespaces/...`) and unknown groups
 * are not this block's: undefined.
 */
export function discoveryEndpoints(groups: readonly ApiGroupDefinition[]): BlockHandler {
  validateApiGroups(groups);
  const legacy = json(200, apiGroupList(groups), { vary: 'Accept' });
  const aggregated = new Map(
    (['v2', 'v2beta1'] as const).map((v) => {
      const body = goJson(aggregatedDiscovery(groups, v)) + '\n';
      return [
        v,
        {
          status: 200,
          headers: { 'content-type': aggregatedDiscoveryMediaType(v), vary: 'Accept', etag: etagOf(body) },
          body,
        } satisfies HttpResponse,
      ];
    }),
  );
  const groupDocs = new Map(groups.map((g) => [g.name, json(200, apiGroup(g))]));
  const resourceLists = new Map(
    groups.flatMap((g) =>
      g.versions.map((v) => [`${g.name}/${v.version}`, json(200, apiResourceList(g.name, v.version, v.resources))]),
    ),
  );

  return (request) => {
    const { path: raw } = splitUrl(request.url);
    // Go serves each with a trailing slash too (`/apis/`, `/apis/<group>/`, `/apis/<group>/<version>/`, the path
    // kube-apiserver's OpenAPI names): one slash is dropped, never more.
    const path = raw.length > 5 && raw.endsWith('/') && !raw.endsWith('//') ? raw.slice(0, -1) : raw;
    const segments = path.split('/');
    // '', 'apis', group?, version?
    if (segments[1] !== 'apis' || segments.length > 4) return undefined;
    const [, , group, version] = segments;
    if (group === '' || version === '') return undefined;
    let response: HttpResponse | undefined;
    if (group === undefined) response = legacy;
    else if (version === undefined) response = groupDocs.get(group);
    else response = resourceLists.get(`${group}/${version}`);
    if (response === undefined) return undefined;
    const method = (request.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      return statusFailure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
    if (group !== undefined) return response;
    const accept = request.headers.accept;
    const negotiated = negotiateDiscovery(Array.isArray(accept) ? accept.join(',') : accept);
    if (negotiated === 'legacy') return legacy;
    if (negotiated === undefined) {
      const r = statusFailure(
        406,
        'NotAcceptable',
        `only the following media types are accepted: application/json, ${aggregatedDiscoveryMediaType('v2')}, ${aggregatedDiscoveryMediaType('v2beta1')}`,
      );
      return { ...r, headers: { ...r.headers, vary: 'Accept' } };
    }
    const answer = aggregated.get(negotiated)!;
    const ifNoneMatch = request.headers['if-none-match'];
    if (ifNoneMatch !== undefined && ifNoneMatch === answer.headers.etag) {
      return { status: 304, headers: { vary: 'Accept', etag: answer.headers.etag }, body: '' };
    }
    return answer;
  };
}
