// The apimachinery meta/v1 definitions an extension apiserver's OpenAPI documents refer to (ObjectMeta, ListMeta,
// Status, DeleteOptions, WatchEvent, Patch and what they use), under kube-apiserver's own names, so `metadata` is
// typed for `kubectl explain` and the aggregator's merge finds the names it already has; and the query parameters and
// patch types of its operations. Descriptions are shortened.
import { patchMediaTypes, type JsonSchema } from './resources.js';

/** kube-apiserver's name of a meta/v1 type. */
export const metaName = (kind: string) => `io.k8s.apimachinery.pkg.apis.meta.v1.${kind}`;

const str = (description: string) => ({ type: 'string', description });
const int64 = (description: string) => ({ type: 'integer', format: 'int64', description });
const int32 = (description: string) => ({ type: 'integer', format: 'int32', description });
const stringMap = (description: string) => ({ type: 'object', additionalProperties: { type: 'string' }, description });
const strings = (description: string) => ({ type: 'array', items: { type: 'string' }, description });

/** The meta definitions, with `ref(name)` building a reference in the document's own style (v2 or v3). */
export function metaDefinitions(ref: (name: string) => JsonSchema): Record<string, JsonSchema> {
  const typed = (kind: string, description: string) => ({ ...ref(metaName(kind)), description });
  const apiVersion = str(
    'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.',
  );
  const kind = str(
    'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase.',
  );
  return {
    [metaName('Time')]: {
      type: 'string',
      format: 'date-time',
      description: 'Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.',
    },
    [metaName('FieldsV1')]: {
      type: 'object',
      description: 'FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format.',
    },
    [metaName('ManagedFieldsEntry')]: {
      type: 'object',
      description:
        'ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.',
      properties: {
        apiVersion: str('APIVersion defines the version of this resource that this field set applies to.'),
        fieldsType: str('FieldsType is the discriminator for the different fields format and version.'),
        fieldsV1: typed(
          'FieldsV1',
          'FieldsV1 holds the first JSON version format as described in the "FieldsV1" type.',
        ),
        manager: str('Manager is an identifier of the workflow managing these fields.'),
        operation: str('Operation is the type of operation which lead to this ManagedFieldsEntry being created.'),
        subresource: str('Subresource is the name of the subresource used to update that object.'),
        time: typed('Time', 'Time is the timestamp of when the ManagedFields entry was added.'),
      },
    },
    [metaName('OwnerReference')]: {
      type: 'object',
      description:
        'OwnerReference contains enough information to let you identify an owning object. An owning object must be in the same namespace as the dependent, or be cluster-scoped, so there is no namespace field.',
      required: ['apiVersion', 'kind', 'name', 'uid'],
      properties: {
        apiVersion: str('API version of the referent.'),
        blockOwnerDeletion: {
          type: 'boolean',
          description:
            'If true, AND if the owner has the "foregroundDeletion" finalizer, then the owner cannot be deleted from the key-value store until this reference is removed.',
        },
        controller: { type: 'boolean', description: 'If true, this reference points to the managing controller.' },
        kind: str('Kind of the referent.'),
        name: str('Name of the referent.'),
        uid: str('UID of the referent.'),
      },
      'x-kubernetes-map-type': 'atomic',
    },
    [metaName('ObjectMeta')]: {
      type: 'object',
      description:
        'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
      properties: {
        annotations: stringMap(
          'Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata.',
        ),
        creationTimestamp: typed(
          'Time',
          'CreationTimestamp is a timestamp representing the server time when this object was created. Populated by the system. Read-only.',
        ),
        deletionGracePeriodSeconds: int64(
          'Number of seconds allowed for this object to gracefully terminate before it will be removed from the system. Read-only.',
        ),
        deletionTimestamp: typed(
          'Time',
          'DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted. Populated by the system when a graceful deletion is requested. Read-only.',
        ),
        finalizers: {
          ...strings(
            'Must be empty before the object is deleted from the registry. Each entry is an identifier for the responsible component that will remove the entry from the list.',
          ),
          'x-kubernetes-list-type': 'set',
          'x-kubernetes-patch-strategy': 'merge',
        },
        generateName: str(
          'GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided.',
        ),
        generation: int64(
          'A sequence number representing a specific generation of the desired state. Populated by the system. Read-only.',
        ),
        labels: stringMap(
          'Map of string keys and values that can be used to organize and categorize (scope and select) objects.',
        ),
        managedFields: {
          type: 'array',
          items: ref(metaName('ManagedFieldsEntry')),
          description:
            "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow. This is mostly for internal housekeeping, and users typically shouldn't need to set or understand this field.",
          'x-kubernetes-list-type': 'atomic',
        },
        name: str(
          'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically.',
        ),
        namespace: str(
          'Namespace defines the space within which each name must be unique. An empty namespace is equivalent to the "default" namespace, but "default" is the canonical representation.',
        ),
        ownerReferences: {
          type: 'array',
          items: ref(metaName('OwnerReference')),
          description:
            'List of objects depended by this object. If ALL objects in the list have been deleted, this object will be garbage collected.',
          'x-kubernetes-list-map-keys': ['uid'],
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-patch-merge-key': 'uid',
          'x-kubernetes-patch-strategy': 'merge',
        },
        resourceVersion: str(
          'An opaque value that represents the internal version of this object that can be used by clients to determine when objects have changed. Populated by the system. Read-only.',
        ),
        selfLink: str('Deprecated: selfLink is a legacy read-only field that is no longer populated by the system.'),
        uid: str(
          'UID is the unique in time and space value for this object. It is typically generated by the server on successful creation of a resource and is not allowed to change on PUT operations. Populated by the system. Read-only.',
        ),
      },
    },
    [metaName('ListMeta')]: {
      type: 'object',
      description:
        'ListMeta describes metadata that synthetic resources must have, including lists and various status objects.',
      properties: {
        continue: str(
          'continue may be set if the user set a limit on the number of items returned, and indicates that the server has more data available.',
        ),
        remainingItemCount: int64(
          'remainingItemCount is the number of subsequent items in the list which are not included in this list response.',
        ),
        resourceVersion: str(
          "String that identifies the server's internal version of this object that can be used by clients to determine when objects have changed.",
        ),
        selfLink: str('Deprecated: selfLink is a legacy read-only field that is no longer populated by the system.'),
      },
    },
    [metaName('StatusCause')]: {
      type: 'object',
      description:
        'StatusCause provides more information about an api.Status failure, including cases when multiple errors are encountered.',
      properties: {
        field: str('The field of the resource that has caused this error, as named by its JSON serialization.'),
        message: str('A human-readable description of the cause of the error.'),
        reason: str('A machine-readable description of the cause of the error.'),
      },
    },
    [metaName('StatusDetails')]: {
      type: 'object',
      description:
        'StatusDetails is a set of additional properties that MAY be set by the server to provide additional information about a response.',
      properties: {
        causes: {
          type: 'array',
          items: ref(metaName('StatusCause')),
          description: 'The Causes array includes more details associated with the StatusReason failure.',
          'x-kubernetes-list-type': 'atomic',
        },
        group: str('The group attribute of the resource associated with the status StatusReason.'),
        kind: str('The kind attribute of the resource associated with the status StatusReason.'),
        name: str(
          'The name attribute of the resource associated with the status StatusReason (when there is a single name which can be described).',
        ),
        retryAfterSeconds: int32('If specified, the time in seconds before the operation should be retried.'),
        uid: str('UID of the resource.'),
      },
    },
    [metaName('Status')]: {
      type: 'object',
      description: "Status is a return value for calls that don't return other objects.",
      properties: {
        apiVersion,
        code: int32('Suggested HTTP return code for this status, 0 if not set.'),
        details: typed('StatusDetails', 'Extended data associated with the reason.'),
        kind,
        message: str('A human-readable description of the status of this operation.'),
        metadata: typed('ListMeta', 'Standard list metadata.'),
        reason: str('A machine-readable description of why this operation is in the "Failure" status.'),
        status: str('Status of the operation. One of: "Success" or "Failure".'),
      },
      'x-kubernetes-group-version-kind': [{ group: '', kind: 'Status', version: 'v1' }],
    },
    [metaName('Preconditions')]: {
      type: 'object',
      description: 'Preconditions must be fulfilled before an operation (update, delete, etc.) is carried out.',
      properties: {
        resourceVersion: str('Specifies the target ResourceVersion'),
        uid: str('Specifies the target UID.'),
      },
    },
    [metaName('DeleteOptions')]: {
      type: 'object',
      description: 'DeleteOptions may be provided when deleting an API object.',
      properties: {
        apiVersion,
        dryRun: {
          ...strings('When present, indicates that modifications should not be persisted.'),
          'x-kubernetes-list-type': 'atomic',
        },
        gracePeriodSeconds: int64('The duration in seconds before the object should be deleted.'),
        kind,
        orphanDependents: { type: 'boolean', description: 'Deprecated: please use the PropagationPolicy.' },
        preconditions: typed('Preconditions', 'Must be fulfilled before a deletion is carried out.'),
        propagationPolicy: str(
          "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'.",
        ),
      },
    },
    [metaName('APIResource')]: {
      type: 'object',
      description: 'APIResource specifies the name of a resource and whether it is namespaced.',
      required: ['name', 'singularName', 'namespaced', 'kind', 'verbs'],
      properties: {
        categories: strings("categories is a list of the grouped resources this resource belongs to (e.g. 'all')."),
        group: str(
          'group is the preferred group of the resource. Empty implies the group of the containing resource list.',
        ),
        kind: str("kind is the kind for the resource (e.g. 'Foo' is the kind for a resource 'foo')"),
        name: str('name is the plural name of the resource.'),
        namespaced: { type: 'boolean', description: 'namespaced indicates if a resource is namespaced or not.' },
        shortNames: strings('shortNames is a list of suggested short names of the resource.'),
        singularName: str('singularName is the singular name of the resource.'),
        storageVersionHash: str(
          'The hash value of the storage version, the version this resource is converted to when written to the data store.',
        ),
        verbs: strings(
          'verbs is a list of supported kube verbs (this includes get, list, watch, create, update, patch, delete, deletecollection, and proxy)',
        ),
        version: str(
          'version is the preferred version of the resource. Empty implies the version of the containing resource list.',
        ),
      },
    },
    [metaName('APIResourceList')]: {
      type: 'object',
      description:
        'APIResourceList is a list of APIResource, it is used to expose the name of the resources supported in a specific group and version, and if the resource is namespaced.',
      required: ['groupVersion', 'resources'],
      properties: {
        apiVersion,
        groupVersion: str('groupVersion is the group and version this APIResourceList is for.'),
        kind,
        resources: {
          type: 'array',
          items: ref(metaName('APIResource')),
          description: 'resources contains the name of the resources and if they are namespaced.',
          'x-kubernetes-list-type': 'atomic',
        },
      },
      'x-kubernetes-group-version-kind': [{ group: '', kind: 'APIResourceList', version: 'v1' }],
    },
    [metaName('WatchEvent')]: {
      type: 'object',
      description: 'Event represents a single event to a watched resource.',
      required: ['type', 'object'],
      properties: {
        object: {
          type: 'object',
          description: 'Object is: the object of the event (ADDED, MODIFIED, DELETED) or a Status (ERROR).',
        },
        type: str('ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.'),
      },
    },
    [metaName('Patch')]: {
      type: 'object',
      description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.',
    },
  };
}

/** The query parameters of list and watch calls. */
export const listQuery = [
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
/** The query parameters of create, update and patch. */
export const writeQuery = ['dryRun', 'fieldManager', 'fieldValidation'];

/** kube-apiserver's query parameters, shortened descriptions. */
export const queryParameters: Record<string, { type: string; description: string }> = {
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

/** The patch content types kube-apiserver accepts. */
export const patchTypes: readonly string[] = patchMediaTypes;
