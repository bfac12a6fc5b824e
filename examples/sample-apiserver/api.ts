// The sample's API, declared once: its group, version, resources and their schemas. Discovery (`/apis...`) and the
// OpenAPI documents (`/openapi/v2`, `/openapi/v3...`) are built from this table by kube-delegated-auth/apiserver's
// blocks, so they cannot disagree with each other or with the verbs app.ts serves.
import type { ApiGroupDefinition, PatchMediaType, ResourceVerb } from 'kube-delegated-auth/apiserver';

export const sampleGroup = 'sample.kube-delegated-auth.io';
export const sampleVersion = 'v1alpha1';
export const sampleGroupVersion = `${sampleGroup}/${sampleVersion}`;

/** The verbs app.ts serves on widgets, sorted as Go lists them; no deletecollection. */
export const widgetVerbs = [
  'create',
  'delete',
  'get',
  'list',
  'patch',
  'update',
  'watch',
] as const satisfies readonly ResourceVerb[];

/** The patch media types the sample accepts: those Go accepts for custom resources (no strategic merge patch). */
export const widgetPatchTypes = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/apply-patch+yaml',
] as const satisfies readonly PatchMediaType[];

const str = (description: string) => ({ type: 'string', description });

export const sampleApi: ApiGroupDefinition = {
  name: sampleGroup,
  versions: [
    {
      version: sampleVersion,
      resources: [
        {
          name: 'selfsubjectreviews',
          singularName: 'selfsubjectreview',
          kind: 'SelfSubjectReview',
          namespaced: false,
          verbs: ['create'],
          description: 'SelfSubjectReview answers who the sample apiserver believes the caller is.',
          schema: {
            type: 'object',
            properties: {
              status: {
                type: 'object',
                description: 'Filled in by the server.',
                properties: {
                  userInfo: {
                    type: 'object',
                    description: 'The authenticated user.',
                    properties: {
                      username: str('The name of the user.'),
                      uid: str('A unique value that identifies the user across time.'),
                      groups: { type: 'array', items: { type: 'string' }, description: 'The groups the user is in.' },
                      extra: {
                        type: 'object',
                        description: 'Any additional information provided by the authenticator.',
                        additionalProperties: { type: 'array', items: { type: 'string' } },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        {
          name: 'widgets',
          singularName: 'widget',
          kind: 'Widget',
          namespaced: true,
          verbs: widgetVerbs,
          shortNames: ['wd'],
          patchTypes: widgetPatchTypes,
          description:
            'A Widget is the sample resource of kube-delegated-auth. Widgets are kept in memory by the serving process: they are lost when it stops, and every replica has its own.',
          schema: {
            type: 'object',
            properties: {
              // Unknown spec fields are kept (as a CRD with this marker keeps them); typed ones are validated (422).
              spec: {
                type: 'object',
                description:
                  'WidgetSpec is what the user wants a widget to be. Fields other than those listed are kept as sent.',
                properties: {
                  color: str('Color of the widget, shown by `kubectl get widgets`.'),
                  size: {
                    type: 'integer',
                    format: 'int64',
                    minimum: 0,
                    description: 'Size of the widget, a whole number >= 0.',
                  },
                },
                'x-kubernetes-preserve-unknown-fields': true,
              },
            },
          },
        },
      ],
    },
  ],
};

/** The OpenAPI documents' `info`. */
export const sampleOpenApiInfo = {
  title: 'kube-delegated-auth sample apiserver',
  description: 'Widgets are kept in memory by each serving process: they do not survive a restart.',
};

/** GET /: the non-resource paths this server answers, as Go's index handler lists them. */
export function rootPaths(): object {
  return {
    paths: [
      '/apis',
      `/apis/${sampleGroup}`,
      `/apis/${sampleGroupVersion}`,
      '/healthz',
      '/livez',
      '/openapi/v2',
      '/openapi/v3',
      '/readyz',
    ],
  };
}
