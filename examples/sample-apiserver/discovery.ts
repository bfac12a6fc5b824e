/** The sample API: group, version and the resources it serves, as the aggregator discovers them. */
export const sampleGroup = 'sample.kube-delegated-auth.io';
export const sampleVersion = 'v1alpha1';
export const sampleGroupVersion = `${sampleGroup}/${sampleVersion}`;

/** The verbs app.ts serves on widgets, sorted as Go lists them; no deletecollection. */
export const widgetVerbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] as const;

/** GET /apis: metav1.APIGroupList. */
export function apiGroupList(): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [apiGroup(false)] };
}

/** GET /apis/<group>: metav1.APIGroup (the list form omits kind/apiVersion per item, as Go serialises it). */
export function apiGroup(withKind = true): object {
  const gv = { groupVersion: sampleGroupVersion, version: sampleVersion };
  return {
    ...(withKind ? { kind: 'APIGroup', apiVersion: 'v1' } : {}),
    name: sampleGroup,
    versions: [gv],
    preferredVersion: gv,
  };
}

/** GET /apis/<group>/<version>: metav1.APIResourceList. */
export function apiResourceList(): object {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: sampleGroupVersion,
    resources: [
      {
        name: 'selfsubjectreviews',
        singularName: 'selfsubjectreview',
        namespaced: false,
        kind: 'SelfSubjectReview',
        verbs: ['create'],
      },
      {
        name: 'widgets',
        singularName: 'widget',
        namespaced: true,
        kind: 'Widget',
        verbs: [...widgetVerbs],
        shortNames: ['wd'],
      },
    ],
  };
}

const info = { title: 'kube-delegated-auth sample apiserver', version: sampleVersion };
const gvPath = `/apis/${sampleGroupVersion}`;

/**
 * GET /openapi/v2: a minimal but valid Swagger 2.0 document. The aggregator downloads it as `system:aggregator`
 * and merges it into the cluster's spec; an invalid document only logs errors there, so keep it well-formed.
 */
export function openApiV2(): object {
  const widget = { $ref: '#/definitions/io.kube-delegated-auth.sample.v1alpha1.Widget' };
  return {
    swagger: '2.0',
    info,
    paths: {
      [`${gvPath}/namespaces/{namespace}/widgets`]: {
        get: { operationId: 'listSampleV1alpha1NamespacedWidget', responses: { '200': { description: 'OK' } } },
        post: {
          operationId: 'createSampleV1alpha1NamespacedWidget',
          responses: { '201': { description: 'Created', schema: widget } },
        },
      },
    },
    definitions: {
      'io.kube-delegated-auth.sample.v1alpha1.Widget': {
        type: 'object',
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          metadata: { type: 'object' },
          spec: { type: 'object', additionalProperties: true },
        },
        'x-kubernetes-group-version-kind': [{ group: sampleGroup, kind: 'Widget', version: sampleVersion }],
      },
    },
  };
}

/** GET /openapi/v3: the discovery document pointing at the per-group-version documents. */
export function openApiV3Discovery(): object {
  return { paths: { [gvPath.slice(1)]: { serverRelativeURL: `/openapi/v3${gvPath}` } } };
}

/** GET /openapi/v3/apis/<group>/<version>: a minimal valid OpenAPI 3.0 document. */
export function openApiV3GroupVersion(): object {
  return {
    openapi: '3.0.0',
    info,
    paths: {},
    components: {
      schemas: {
        'io.kube-delegated-auth.sample.v1alpha1.Widget': {
          type: 'object',
          properties: {
            apiVersion: { type: 'string' },
            kind: { type: 'string' },
            metadata: { type: 'object' },
            spec: { type: 'object', additionalProperties: true },
          },
          'x-kubernetes-group-version-kind': [{ group: sampleGroup, kind: 'Widget', version: sampleVersion }],
        },
      },
    },
  };
}

/** GET /: the non-resource paths this server answers, as Go's index handler lists them. */
export function rootPaths(): object {
  return {
    paths: ['/apis', `/apis/${sampleGroup}`, gvPath, '/healthz', '/livez', '/openapi/v2', '/openapi/v3', '/readyz'],
  };
}
