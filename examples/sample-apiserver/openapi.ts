// Longer than ~350 lines: it is declarative, the sample's types and operations written out once as data (both
// OpenAPI dialects render the same tables), and splitting the tables would scatter one schema over several files.
/**
 * The sample's OpenAPI documents (v2 at /openapi/v2, v3 at /openapi/v3/apis/<group>/<version>), built from one
 * description of its types and operations so the two never disagree. The kube-apiserver downloads both as
 * `system:aggregator` and serves them merged: `kubectl explain` reads the field descriptions, and kubectl's patch,
 * dry-run and field-validation support checks read the operations' parameters and `consumes`.
 */
import { sampleGroup, sampleGroupVersion, sampleVersion } from './discovery.js';

type Dialect = 'v2' | 'v3';

const metaV1 = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const samplePkg = 'io.kube-delegated-auth.sample.v1alpha1.';

/** Definition names, as Go derives them from package paths. */
export const definitionNames = {
  widget: `${samplePkg}Widget`,
  widgetSpec: `${samplePkg}WidgetSpec`,
  widgetList: `${samplePkg}WidgetList`,
  selfSubjectReview: `${samplePkg}SelfSubjectReview`,
  objectMeta: `${metaV1}ObjectMeta`,
  listMeta: `${metaV1}ListMeta`,
  time: `${metaV1}Time`,
  status: `${metaV1}Status`,
  statusDetails: `${metaV1}StatusDetails`,
  statusCause: `${metaV1}StatusCause`,
  deleteOptions: `${metaV1}DeleteOptions`,
  preconditions: `${metaV1}Preconditions`,
  patch: `${metaV1}Patch`,
  watchEvent: `${metaV1}WatchEvent`,
  apiResourceList: `${metaV1}APIResourceList`,
  apiResource: `${metaV1}APIResource`,
} as const;
const n = definitionNames;

/** The patch media types the sample accepts: those Go accepts for custom resources (no strategic merge patch). */
export const widgetPatchTypes = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/apply-patch+yaml',
] as const;

const ref = (d: Dialect, name: string) => ({
  $ref: d === 'v2' ? `#/definitions/${name}` : `#/components/schemas/${name}`,
});
const str = (description: string) => ({ type: 'string', description });
const gvk = (kind: string) => [{ group: sampleGroup, kind, version: sampleVersion }];
const apiVersionField = str(
  'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.',
);
const kindField = str(
  'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase.',
);

/**
 * Every type the documents reference. The Widget schema is declared here once; both dialects render it.
 * `x-kubernetes-preserve-unknown-fields` on the spec: the sample keeps spec fields it does not know (as a CRD with
 * that marker does), and typed ones (`color`, `size`) are validated (422 otherwise).
 */
function definitions(d: Dialect): Record<string, object> {
  const stringMap = (description: string) => ({
    type: 'object',
    description,
    additionalProperties: { type: 'string' },
  });
  return {
    [n.widget]: {
      description:
        'A Widget is the sample resource of kube-delegated-auth. Widgets are kept in memory by the serving process: they are lost when it stops, and every replica has its own.',
      type: 'object',
      properties: {
        apiVersion: apiVersionField,
        kind: kindField,
        metadata: { ...ref(d, n.objectMeta) },
        spec: { ...ref(d, n.widgetSpec) },
      },
      'x-kubernetes-group-version-kind': gvk('Widget'),
    },
    [n.widgetSpec]: {
      description: 'WidgetSpec is what the user wants a widget to be. Fields other than those listed are kept as sent.',
      type: 'object',
      properties: {
        color: str('Color of the widget, shown by `kubectl get widgets`.'),
        size: { type: 'integer', format: 'int64', minimum: 0, description: 'Size of the widget, a whole number >= 0.' },
      },
      'x-kubernetes-preserve-unknown-fields': true,
    },
    [n.widgetList]: {
      description: 'WidgetList is a list of Widgets.',
      type: 'object',
      required: ['items'],
      properties: {
        apiVersion: apiVersionField,
        kind: kindField,
        metadata: { ...ref(d, n.listMeta) },
        items: { type: 'array', description: 'The widgets.', items: ref(d, n.widget) },
      },
      'x-kubernetes-group-version-kind': gvk('WidgetList'),
    },
    [n.selfSubjectReview]: {
      description: 'SelfSubjectReview answers who the sample apiserver believes the caller is.',
      type: 'object',
      properties: {
        apiVersion: apiVersionField,
        kind: kindField,
        metadata: { ...ref(d, n.objectMeta) },
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
      'x-kubernetes-group-version-kind': gvk('SelfSubjectReview'),
    },
    [n.objectMeta]: {
      description:
        'ObjectMeta is metadata that all persisted resources must have. The sample stores the fields listed here.',
      type: 'object',
      properties: {
        name: str('Name must be unique within a namespace: a lowercase RFC 1123 subdomain. Cannot be updated.'),
        generateName: str('A prefix the server uses to generate a unique name when name is not provided.'),
        namespace: str('The namespace the object is in: a lowercase RFC 1123 label. Cannot be updated.'),
        uid: str('A value unique in time and space for this object, set by the server. Read-only.'),
        resourceVersion: str(
          'An opaque value that changes on every write; sent back on an update it makes the write conditional (409 Conflict when the object changed meanwhile). Read-only.',
        ),
        creationTimestamp: { ...ref(d, n.time) },
        labels: stringMap('Map of string keys and values used to organize and select objects (label selectors).'),
        annotations: stringMap('Unstructured key value map stored with the object, not used to select it.'),
      },
    },
    [n.listMeta]: {
      description: 'ListMeta describes metadata that synthetic resources must have, including lists.',
      type: 'object',
      properties: {
        resourceVersion: str('The revision of the store the list was read at; watch from it to see later changes.'),
      },
    },
    [n.time]: {
      description: 'Time is an RFC 3339 date and time with second precision, in UTC.',
      type: 'string',
      format: 'date-time',
    },
    [n.status]: {
      description: 'Status is the return value for calls that do not return other objects (errors included).',
      type: 'object',
      properties: {
        apiVersion: apiVersionField,
        kind: kindField,
        code: { type: 'integer', format: 'int32', description: 'Suggested HTTP return code for this status.' },
        details: { ...ref(d, n.statusDetails) },
        message: str('A human-readable description of the status of this operation.'),
        metadata: { ...ref(d, n.listMeta) },
        reason: str('A machine-readable description of why this operation is in the "Failure" status.'),
        status: str('Status of the operation: "Success" or "Failure".'),
      },
      'x-kubernetes-group-version-kind': [{ group: '', kind: 'Status', version: 'v1' }],
    },
    [n.statusDetails]: {
      description: 'StatusDetails is a set of additional properties that may be set by the server.',
      type: 'object',
      properties: {
        causes: { type: 'array', items: ref(d, n.statusCause), description: 'The causes of a failure, per field.' },
        group: str('The group attribute of the resource associated with the status.'),
        kind: str('The kind attribute of the resource associated with the status.'),
        name: str('The name attribute of the resource associated with the status.'),
        uid: str('UID of the resource.'),
      },
    },
    [n.statusCause]: {
      description: 'StatusCause provides more information about an API error.',
      type: 'object',
      properties: {
        field: str('The field of the resource that caused this error, e.g. `metadata.name`.'),
        message: str('A human-readable description of the cause of the error.'),
        reason: str('A machine-readable description of the cause of the error.'),
      },
    },
    [n.deleteOptions]: {
      description: 'DeleteOptions may be provided when deleting an API object.',
      type: 'object',
      properties: {
        apiVersion: apiVersionField,
        kind: kindField,
        dryRun: {
          type: 'array',
          items: { type: 'string' },
          description: 'When present, the deletion is not persisted. The only valid value is "All".',
        },
        preconditions: { ...ref(d, n.preconditions) },
        propagationPolicy: str('Accepted and ignored: a widget has no dependents.'),
        gracePeriodSeconds: {
          type: 'integer',
          format: 'int64',
          description: 'Accepted and ignored: a widget is deleted at once.',
        },
      },
      'x-kubernetes-group-version-kind': [{ group: '', kind: 'DeleteOptions', version: 'v1' }],
    },
    [n.preconditions]: {
      description: 'Preconditions must be fulfilled before a deletion is carried out (409 Conflict otherwise).',
      type: 'object',
      properties: {
        resourceVersion: str('Specifies the target ResourceVersion.'),
        uid: str('Specifies the target UID.'),
      },
    },
    [n.patch]: {
      description:
        'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body: a JSON patch, a JSON merge patch, or an apply configuration.',
      type: 'object',
    },
    [n.watchEvent]: {
      description: 'Event represents a single event to a watched resource.',
      type: 'object',
      required: ['type', 'object'],
      properties: {
        object: { type: 'object', description: 'The object (a Widget), or a Status for an ERROR event.' },
        type: str('ADDED, MODIFIED, DELETED or ERROR.'),
      },
    },
    [n.apiResourceList]: {
      description: 'APIResourceList is a list of APIResource, the resources of a group version.',
      type: 'object',
      required: ['groupVersion', 'resources'],
      properties: {
        apiVersion: apiVersionField,
        kind: kindField,
        groupVersion: str('The group and version of this list of resources.'),
        resources: { type: 'array', items: ref(d, n.apiResource), description: 'The resources.' },
      },
    },
    [n.apiResource]: {
      description: 'APIResource specifies the name of a resource and whether it is namespaced.',
      type: 'object',
      required: ['name', 'singularName', 'namespaced', 'kind', 'verbs'],
      properties: {
        name: str('The plural name of the resource.'),
        singularName: str('The singular name of the resource.'),
        namespaced: { type: 'boolean', description: 'Whether the resource is namespaced.' },
        kind: str('The kind of the resource.'),
        verbs: { type: 'array', items: { type: 'string' }, description: 'The verbs the resource supports.' },
        shortNames: { type: 'array', items: { type: 'string' }, description: 'Short names for kubectl.' },
      },
    },
  };
}

interface Param {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'boolean';
  readonly description: string;
}

const dryRun: Param = {
  name: 'dryRun',
  type: 'string',
  description:
    'When present, indicates that modifications should not be persisted. The only valid value is "All"; an invalid value is answered 422.',
};
const fieldManager: Param = {
  name: 'fieldManager',
  type: 'string',
  description:
    'A name associated with the actor making the change. Required for apply patches (application/apply-patch+yaml).',
};
const fieldValidation: Param = {
  name: 'fieldValidation',
  type: 'string',
  description:
    'What to do with fields of the request body the Widget schema does not declare (outside spec, which keeps unknown fields): "Ignore" drops them, "Warn" (the default) drops them with a Warning header, "Strict" refuses the request with 400 BadRequest.',
};
const force: Param = {
  name: 'force',
  type: 'boolean',
  description:
    'Accepted for apply patches; the sample reports no conflicts between field managers, so there is nothing to force.',
};
const listParams: readonly Param[] = [
  {
    name: 'labelSelector',
    type: 'string',
    description: 'A selector to restrict the list of returned objects by their labels. Defaults to everything.',
  },
  {
    name: 'fieldSelector',
    type: 'string',
    description: 'A selector on metadata.name and metadata.namespace (the only supported fields).',
  },
  {
    name: 'resourceVersion',
    type: 'string',
    description: 'Watch: start after this revision (410 Expired when it left the history).',
  },
  { name: 'timeoutSeconds', type: 'integer', description: 'Watch: end the stream after this many seconds.' },
  { name: 'watch', type: 'boolean', description: 'Watch for changes instead of listing.' },
];

type Action = 'get' | 'list' | 'watch' | 'watchlist' | 'post' | 'put' | 'patch' | 'delete';

interface Operation {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  readonly operationId: string;
  readonly description: string;
  readonly action?: Action;
  /** The kind for `x-kubernetes-group-version-kind`. */
  readonly kind?: string;
  readonly query: readonly Param[];
  readonly body?: { readonly schema: string; readonly consumes: readonly string[] };
  readonly responses: Readonly<Record<string, { readonly description: string; readonly schema?: string }>>;
  readonly produces: readonly string[];
}

interface PathItem {
  readonly path: string;
  readonly pathParams: readonly ('namespace' | 'name')[];
  readonly operations: readonly Operation[];
}

const gvPath = `/apis/${sampleGroupVersion}`;
const idGroup = 'SampleKubeDelegatedAuthIoV1alpha1';
const json = ['application/json'] as const;
const watchTypes = ['application/json', 'application/json;stream=watch'] as const;
const unauthorized = { '401': { description: 'Unauthorized' } };

/** Every path the sample serves under its group version, with every verb it serves there. */
function pathItems(): PathItem[] {
  const widgetOk = { '200': { description: 'OK', schema: n.widget } };
  const watchOk = { '200': { description: 'OK', schema: n.watchEvent }, ...unauthorized };
  return [
    {
      path: `${gvPath}/`,
      pathParams: [],
      operations: [
        {
          method: 'get',
          operationId: `get${idGroup}APIResources`,
          description: 'get available resources',
          query: [],
          responses: { '200': { description: 'OK', schema: n.apiResourceList }, ...unauthorized },
          produces: json,
        },
      ],
    },
    {
      path: `${gvPath}/namespaces/{namespace}/widgets`,
      pathParams: ['namespace'],
      operations: [
        {
          method: 'get',
          operationId: `list${idGroup}NamespacedWidget`,
          description: 'list or watch objects of kind Widget',
          action: 'list',
          kind: 'Widget',
          query: listParams,
          responses: { '200': { description: 'OK', schema: n.widgetList }, ...unauthorized },
          produces: watchTypes,
        },
        {
          method: 'post',
          operationId: `create${idGroup}NamespacedWidget`,
          description: 'create a Widget',
          action: 'post',
          kind: 'Widget',
          query: [dryRun, fieldManager, fieldValidation],
          body: { schema: n.widget, consumes: json },
          responses: { '201': { description: 'Created', schema: n.widget }, ...unauthorized },
          produces: json,
        },
      ],
    },
    {
      path: `${gvPath}/namespaces/{namespace}/widgets/{name}`,
      pathParams: ['name', 'namespace'],
      operations: [
        {
          method: 'get',
          operationId: `read${idGroup}NamespacedWidget`,
          description: 'read the specified Widget',
          action: 'get',
          kind: 'Widget',
          query: [],
          responses: { ...widgetOk, ...unauthorized },
          produces: json,
        },
        {
          method: 'put',
          operationId: `replace${idGroup}NamespacedWidget`,
          description:
            'replace the specified Widget (metadata.resourceVersion in the body makes it conditional: 409 Conflict when stale)',
          action: 'put',
          kind: 'Widget',
          query: [dryRun, fieldManager, fieldValidation],
          body: { schema: n.widget, consumes: json },
          responses: { ...widgetOk, ...unauthorized },
          produces: json,
        },
        {
          method: 'patch',
          operationId: `patch${idGroup}NamespacedWidget`,
          description:
            'partially update the specified Widget (JSON patch, JSON merge patch, or an apply configuration, which also creates it)',
          action: 'patch',
          kind: 'Widget',
          query: [dryRun, fieldManager, fieldValidation, force],
          body: { schema: n.patch, consumes: widgetPatchTypes },
          responses: { ...widgetOk, '201': { description: 'Created', schema: n.widget }, ...unauthorized },
          produces: json,
        },
        {
          method: 'delete',
          operationId: `delete${idGroup}NamespacedWidget`,
          description: 'delete a Widget',
          action: 'delete',
          kind: 'Widget',
          query: [dryRun],
          body: { schema: n.deleteOptions, consumes: json },
          responses: { '200': { description: 'OK', schema: n.status }, ...unauthorized },
          produces: json,
        },
      ],
    },
    {
      path: `${gvPath}/widgets`,
      pathParams: [],
      operations: [
        {
          method: 'get',
          operationId: `list${idGroup}WidgetForAllNamespaces`,
          description: 'list or watch objects of kind Widget in every namespace',
          action: 'list',
          kind: 'Widget',
          query: listParams,
          responses: { '200': { description: 'OK', schema: n.widgetList }, ...unauthorized },
          produces: watchTypes,
        },
      ],
    },
    {
      path: `${gvPath}/watch/namespaces/{namespace}/widgets`,
      pathParams: ['namespace'],
      operations: [
        {
          method: 'get',
          operationId: `watch${idGroup}NamespacedWidgetList`,
          description: 'watch individual changes to a list of Widget',
          action: 'watchlist',
          kind: 'Widget',
          query: listParams,
          responses: watchOk,
          produces: watchTypes,
        },
      ],
    },
    {
      path: `${gvPath}/watch/namespaces/{namespace}/widgets/{name}`,
      pathParams: ['name', 'namespace'],
      operations: [
        {
          method: 'get',
          operationId: `watch${idGroup}NamespacedWidget`,
          description: 'watch changes to an object of kind Widget',
          action: 'watch',
          kind: 'Widget',
          query: listParams,
          responses: watchOk,
          produces: watchTypes,
        },
      ],
    },
    {
      path: `${gvPath}/watch/widgets`,
      pathParams: [],
      operations: [
        {
          method: 'get',
          operationId: `watch${idGroup}WidgetListForAllNamespaces`,
          description: 'watch individual changes to a list of Widget in every namespace',
          action: 'watchlist',
          kind: 'Widget',
          query: listParams,
          responses: watchOk,
          produces: watchTypes,
        },
      ],
    },
    {
      path: `${gvPath}/selfsubjectreviews`,
      pathParams: [],
      operations: [
        {
          method: 'post',
          operationId: `create${idGroup}SelfSubjectReview`,
          description: 'ask who the server believes the caller is',
          action: 'post',
          kind: 'SelfSubjectReview',
          query: [],
          body: { schema: n.selfSubjectReview, consumes: json },
          responses: { '201': { description: 'Created', schema: n.selfSubjectReview }, ...unauthorized },
          produces: json,
        },
      ],
    },
  ];
}

const pathParamDescription = {
  namespace: 'object name and auth scope, such as for teams and projects',
  name: 'name of the Widget',
} as const;

const info = {
  title: 'kube-delegated-auth sample apiserver',
  description: 'Widgets are kept in memory by each serving process: they do not survive a restart.',
  version: sampleVersion,
};

function extensions(op: Operation): object {
  return {
    ...(op.action ? { 'x-kubernetes-action': op.action } : {}),
    ...(op.kind ? { 'x-kubernetes-group-version-kind': gvk(op.kind)[0] } : {}),
  };
}

/** GET /openapi/v2: Swagger 2.0 with every path, verb and type the sample serves. */
export function openApiV2(): object {
  const paths: Record<string, object> = {};
  for (const item of pathItems()) {
    const entry: Record<string, unknown> = {};
    if (item.pathParams.length > 0) {
      entry.parameters = item.pathParams.map((p) => ({
        name: p,
        in: 'path',
        required: true,
        type: 'string',
        uniqueItems: true,
        description: pathParamDescription[p],
      }));
    }
    for (const op of item.operations) {
      const parameters: object[] = op.query.map((p) => ({
        name: p.name,
        in: 'query',
        type: p.type,
        uniqueItems: true,
        description: p.description,
      }));
      if (op.body)
        parameters.unshift({
          name: 'body',
          in: 'body',
          required: op.method !== 'delete',
          schema: ref('v2', op.body.schema),
        });
      entry[op.method] = {
        description: op.description,
        ...(op.body ? { consumes: [...op.body.consumes] } : {}),
        produces: [...op.produces],
        schemes: ['https'],
        tags: ['sampleKubeDelegatedAuthIo_v1alpha1'],
        operationId: op.operationId,
        ...(parameters.length > 0 ? { parameters } : {}),
        responses: Object.fromEntries(
          Object.entries(op.responses).map(([code, r]) => [
            code,
            { description: r.description, ...(r.schema ? { schema: ref('v2', r.schema) } : {}) },
          ]),
        ),
        ...extensions(op),
      };
    }
    paths[item.path] = entry;
  }
  return { swagger: '2.0', info, paths, definitions: definitions('v2') };
}

/** GET /openapi/v3: the discovery document pointing at the per-group-version documents. */
export function openApiV3Discovery(): object {
  return { paths: { [gvPath.slice(1)]: { serverRelativeURL: `/openapi/v3${gvPath}` } } };
}

/** GET /openapi/v3/apis/<group>/<version>: OpenAPI 3.0 with every path, verb and type of the group version. */
export function openApiV3GroupVersion(): object {
  const paths: Record<string, object> = {};
  for (const item of pathItems()) {
    const entry: Record<string, unknown> = {};
    if (item.pathParams.length > 0) {
      entry.parameters = item.pathParams.map((p) => ({
        name: p,
        in: 'path',
        required: true,
        description: pathParamDescription[p],
        schema: { type: 'string', uniqueItems: true },
      }));
    }
    for (const op of item.operations) {
      entry[op.method] = {
        tags: ['sampleKubeDelegatedAuthIo_v1alpha1'],
        description: op.description,
        operationId: op.operationId,
        ...(op.query.length > 0
          ? {
              parameters: op.query.map((p) => ({
                name: p.name,
                in: 'query',
                description: p.description,
                schema: { type: p.type, uniqueItems: true },
              })),
            }
          : {}),
        ...(op.body
          ? {
              requestBody: {
                content: Object.fromEntries(op.body.consumes.map((c) => [c, { schema: ref('v3', op.body!.schema) }])),
                required: op.method !== 'delete',
              },
            }
          : {}),
        responses: Object.fromEntries(
          Object.entries(op.responses).map(([code, r]) => [
            code,
            {
              description: r.description,
              ...(r.schema
                ? { content: Object.fromEntries(op.produces.map((p) => [p, { schema: ref('v3', r.schema!) }])) }
                : {}),
            },
          ]),
        ),
        ...extensions(op),
      };
    }
    paths[item.path] = entry;
  }
  return { openapi: '3.0.0', info, paths, components: { schemas: definitions('v3') } };
}
