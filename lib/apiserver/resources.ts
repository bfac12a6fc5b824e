// The description of a user's API that the discovery and OpenAPI builders share: groups, versions, resources with
// their verbs, kind, scope, short names, categories, subresources and (for OpenAPI) a JSON schema per kind.
import { InvalidOptionError } from '../errors.js';

/** The verbs Kubernetes discovery lists (`kubectl api-resources -o wide` shows them). */
export const resourceVerbs = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
] as const;
export type ResourceVerb = (typeof resourceVerbs)[number];

/**
 * The PATCH media types Kubernetes knows. Go accepts all four for its built-in types and all but strategic merge
 * patch for custom resources (strategic merge needs Go struct tags a JSON schema does not carry).
 */
export const patchMediaTypes = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
] as const;
export type PatchMediaType = (typeof patchMediaTypes)[number];

/** An OpenAPI v3 schema object (the subset v2 shares is the caller's to respect for /openapi/v2). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** A subresource, e.g. `status` (verbs get, patch, update) or `scale`. */
export interface ApiSubresourceDefinition {
  /** `status`, `scale`, ... */
  readonly name: string;
  /** The kind it answers with. Default the parent's kind. */
  readonly kind?: string;
  /** The group of `kind` when another group's (`autoscaling` for `Scale`). Default the parent's group. */
  readonly group?: string;
  /** The version of `kind` when another group's (`v1` for `autoscaling/Scale`). Default the parent's version. */
  readonly version?: string;
  readonly verbs: readonly ResourceVerb[];
}

/** One resource of a group version. */
export interface ApiResourceDefinition {
  /** Plural, lowercase: the path segment (`widgets`). */
  readonly name: string;
  /** Lowercase singular (`widget`): `kubectl get widget`. */
  readonly singularName: string;
  /** `Widget`. */
  readonly kind: string;
  /** The list kind. Default `<kind>List`. */
  readonly listKind?: string;
  /** Namespaced (`/namespaces/{namespace}/widgets`) or cluster-scoped. */
  readonly namespaced: boolean;
  readonly verbs: readonly ResourceVerb[];
  /** `kubectl get wd`. */
  readonly shortNames?: readonly string[];
  /** `kubectl get all` lists resources in the `all` category. */
  readonly categories?: readonly string[];
  readonly subresources?: readonly ApiSubresourceDefinition[];
  /**
   * The object's schema for OpenAPI, usually `{ type: 'object', properties: { spec: ..., status: ... } }`:
   * `apiVersion`, `kind` and a typed `metadata` (ObjectMeta) are added. Default: an object with no known fields.
   */
  readonly schema?: JsonSchema;
  /** Shown by `kubectl explain <resource>`. */
  readonly description?: string;
  /**
   * The PATCH media types the server accepts for this resource, listed as the patch operations' `consumes`
   * (kubectl and client tools read them). Default all of {@link patchMediaTypes}, as for Go's built-in types; a
   * server that, as Go for custom resources, refuses strategic merge patch lists the other three.
   */
  readonly patchTypes?: readonly PatchMediaType[];
}

export interface ApiVersionDefinition {
  /** `v1alpha1`. */
  readonly version: string;
  readonly resources: readonly ApiResourceDefinition[];
}

/** A group and its versions, the preferred version first (Go lists them in priority order). */
export interface ApiGroupDefinition {
  /** `sample.example.com`. */
  readonly name: string;
  readonly versions: readonly ApiVersionDefinition[];
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const versionPattern = /^v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$/;
const kindPattern = /^[A-Z][A-Za-z0-9]*$/;

/**
 * Checks the definitions once, when a builder is made: every problem in one {@link InvalidOptionError} naming the
 * group/version/resource, so a typo fails at startup and not as a document the aggregator or kubectl rejects.
 */
export function validateApiGroups(groups: readonly ApiGroupDefinition[]): void {
  const problems: string[] = [];
  const groupNames = new Set<string>();
  if (!Array.isArray(groups) || groups.length === 0) problems.push('at least one API group is needed');
  for (const g of Array.isArray(groups) ? groups : []) {
    const gname = String(g?.name);
    if (typeof g?.name !== 'string' || g.name.length > 253 || !dns1123Subdomain.test(g.name) || !g.name.includes('.')) {
      problems.push(`group ${JSON.stringify(g?.name)}: must be a lowercase DNS subdomain with a dot (example.com)`);
    }
    if (groupNames.has(gname)) problems.push(`group ${JSON.stringify(gname)}: listed twice`);
    groupNames.add(gname);
    if (!Array.isArray(g?.versions) || g.versions.length === 0) problems.push(`group ${gname}: needs a version`);
    const versions = new Set<string>();
    for (const v of Array.isArray(g?.versions) ? g.versions : []) {
      const gv = `${gname}/${String(v?.version)}`;
      if (typeof v?.version !== 'string' || !versionPattern.test(v.version)) {
        problems.push(`${gv}: version must look like v1, v1beta1 or v2alpha3`);
      }
      if (versions.has(String(v?.version))) problems.push(`${gv}: listed twice`);
      versions.add(String(v?.version));
      const resources = new Set<string>();
      for (const r of Array.isArray(v?.resources) ? v.resources : []) {
        const at = `${gv} resource ${JSON.stringify(r?.name)}`;
        if (typeof r?.name !== 'string' || !dns1123Label.test(r.name)) problems.push(`${at}: name must be lowercase`);
        if (resources.has(String(r?.name))) problems.push(`${at}: listed twice`);
        resources.add(String(r?.name));
        if (typeof r?.singularName !== 'string' || !dns1123Label.test(r.singularName)) {
          problems.push(`${at}: singularName must be lowercase`);
        }
        if (typeof r?.kind !== 'string' || !kindPattern.test(r.kind)) problems.push(`${at}: kind must be CamelCase`);
        if (r?.listKind !== undefined && !kindPattern.test(String(r.listKind))) {
          problems.push(`${at}: listKind must be CamelCase`);
        }
        if (typeof r?.namespaced !== 'boolean') problems.push(`${at}: namespaced must be true or false`);
        const badVerbs = (Array.isArray(r?.verbs) ? r.verbs : [undefined]).filter(
          (verb: unknown) => !(resourceVerbs as readonly unknown[]).includes(verb),
        );
        if (badVerbs.length > 0) problems.push(`${at}: unknown verbs ${JSON.stringify(badVerbs)}`);
        for (const list of ['shortNames', 'categories'] as const) {
          const values = r?.[list];
          if (values !== undefined && (!Array.isArray(values) || values.some((s) => !dns1123Label.test(String(s))))) {
            problems.push(`${at}: ${list} must be lowercase names`);
          }
        }
        const patchTypes = r?.patchTypes;
        if (
          patchTypes !== undefined &&
          (!Array.isArray(patchTypes) ||
            patchTypes.length === 0 ||
            patchTypes.some((t) => !(patchMediaTypes as readonly unknown[]).includes(t)))
        ) {
          problems.push(`${at}: patchTypes must be some of ${patchMediaTypes.join(', ')}`);
        }
        for (const s of r?.subresources ?? []) {
          const sat = `${at} subresource ${JSON.stringify(s?.name)}`;
          if (typeof s?.name !== 'string' || !dns1123Label.test(s.name))
            problems.push(`${sat}: name must be lowercase`);
          if (
            !Array.isArray(s?.verbs) ||
            s.verbs.some((verb: unknown) => !(resourceVerbs as readonly unknown[]).includes(verb))
          ) {
            problems.push(`${sat}: unknown verbs`);
          }
        }
      }
    }
  }
  if (problems.length > 0) throw new InvalidOptionError(problems);
}

/** `<kind>List` unless the resource says otherwise. */
export function listKindOf(r: ApiResourceDefinition): string {
  return r.listKind ?? `${r.kind}List`;
}
