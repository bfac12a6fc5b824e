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

const gvPath = `/apis/${sampleGroupVersion}`;

/** GET /: the non-resource paths this server answers, as Go's index handler lists them. */
export function rootPaths(): object {
  return {
    paths: ['/apis', `/apis/${sampleGroup}`, gvPath, '/healthz', '/livez', '/openapi/v2', '/openapi/v3', '/readyz'],
  };
}
