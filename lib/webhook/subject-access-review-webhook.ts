import type { IncomingMessage } from 'node:http';
import type { UserInfo } from '../authn/interfaces.js';
import type { Authorizer, RequestAttributes, SelectorRequirement } from '../authz/interfaces.js';
import type { HttpResponse } from '../http/status.js';
import { noopLogger, type Logger } from '../log.js';
import {
  badRequest,
  defaultMaxBodyBytes,
  disconnectSignal,
  internalErrorResponse,
  isExtra,
  isRecord,
  isStringArray,
  readJsonReview,
  reviewResponse,
  runCallback,
} from './review-io.js';
import type { ReviewWebhook } from './token-review-webhook.js';

export { TransientError } from './transient-error.js';

/** The SubjectAccessReview versions kube-apiserver sends (`--authorization-webhook-version`, v1beta1 before 1.21). */
export const subjectAccessReviewApiVersions = ['authorization.k8s.io/v1', 'authorization.k8s.io/v1beta1'] as const;
export type SubjectAccessReviewApiVersion = (typeof subjectAccessReviewApiVersions)[number];

export interface LabelOrFieldSelector {
  readonly rawSelector?: string;
  readonly requirements?: readonly SelectorRequirement[];
}

export interface ResourceAttributes {
  readonly namespace: string;
  readonly verb: string;
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly subresource: string;
  readonly name: string;
  readonly fieldSelector?: LabelOrFieldSelector;
  readonly labelSelector?: LabelOrFieldSelector;
}

export interface NonResourceAttributes {
  readonly path: string;
  readonly verb: string;
}

/**
 * `spec` normalised across versions: v1beta1's `group` is presented as `groups`; absent strings are ''. Exactly one of
 * `resourceAttributes` / `nonResourceAttributes` is set.
 */
export interface SubjectAccessReviewSpec {
  readonly apiVersion: SubjectAccessReviewApiVersion;
  readonly user: string;
  readonly uid: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
  readonly resourceAttributes?: ResourceAttributes;
  readonly nonResourceAttributes?: NonResourceAttributes;
}

/**
 * `allowed:false` without `denied` is "no opinion" (kube-apiserver asks its next authorizer); `denied:true` stops the
 * chain. Both true is a contradiction and answered 500.
 */
export interface AuthorizeResult {
  readonly allowed: boolean;
  readonly denied?: boolean;
  readonly reason?: string;
  readonly evaluationError?: string;
}

/** Throw `TransientError` for "retry later"; any other throw is answered with 500 and logged. */
export type AuthorizeReview = (spec: SubjectAccessReviewSpec, signal: AbortSignal) => Promise<AuthorizeResult>;

export interface SubjectAccessReviewWebhookOptions {
  /** The decision function. Required. */
  readonly authorize: AuthorizeReview;
  /** Largest accepted request body, in bytes. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Default: the silent library logger. */
  readonly logger?: Logger;
}

/**
 * The server side of `--authorization-webhook-config-file`: answers SubjectAccessReview POSTs. "No" is HTTP 200 with
 * `allowed:false`; malformed input 400, oversized 413, transient failure 429/503 with Retry-After, a throw 500.
 */
export function subjectAccessReviewWebhook(options: SubjectAccessReviewWebhookOptions): ReviewWebhook {
  const { authorize, maxBodyBytes = defaultMaxBodyBytes, logger = noopLogger } = options;
  if (typeof authorize !== 'function') throw new TypeError('authorize must be a function');
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new TypeError('"maxBodyBytes" option must be a positive integer');
  }
  return {
    async handle(req: IncomingMessage): Promise<HttpResponse> {
      const read = await readJsonReview(req, maxBodyBytes);
      if (!read.ok) {
        logger.info({ status: read.response.status, method: req.method }, 'SubjectAccessReview request refused');
        return read.response;
      }
      const spec = parseSubjectAccessReview(read.value);
      if (typeof spec === 'string') {
        logger.info({ problem: spec }, 'malformed SubjectAccessReview');
        return badRequest(spec);
      }
      const fields = { apiVersion: spec.apiVersion, user: spec.user, ...describeAttributes(spec) };
      const gone = disconnectSignal(req);
      let outcome;
      try {
        outcome = await runCallback(logger, 'authorization', fields, () => authorize(spec, gone.signal));
      } finally {
        gone.dispose();
      }
      if (!outcome.ok) return outcome.response;
      const status = buildStatus(outcome.value);
      if (typeof status === 'string') {
        logger.error({ ...fields, problem: status }, 'authorize returned an invalid result; answering 500');
        return internalErrorResponse('authorization returned an invalid result');
      }
      logger.debug({ ...fields, ...status }, 'SubjectAccessReview answered');
      return reviewResponse({
        apiVersion: spec.apiVersion,
        kind: 'SubjectAccessReview',
        metadata: { creationTimestamp: null },
        spec: {},
        status,
      });
    },
  };
}

function describeAttributes(spec: SubjectAccessReviewSpec): Record<string, string> {
  const r = spec.resourceAttributes;
  if (r) {
    return {
      verb: r.verb,
      resource: r.subresource ? `${r.resource}/${r.subresource}` : r.resource,
      group: r.group,
      namespace: r.namespace,
    };
  }
  return { verb: spec.nonResourceAttributes!.verb, path: spec.nonResourceAttributes!.path };
}

const str = (v: unknown): v is string | undefined => v === undefined || typeof v === 'string';

function parseSelector(v: unknown, where: string): LabelOrFieldSelector | string | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) return `${where} must be an object`;
  if (!str(v.rawSelector)) return `${where}.rawSelector must be a string`;
  const reqs = v.requirements ?? [];
  if (!Array.isArray(reqs)) return `${where}.requirements must be an array`;
  for (const r of reqs) {
    if (
      !isRecord(r) ||
      typeof r.key !== 'string' ||
      typeof r.operator !== 'string' ||
      !(r.values === undefined || isStringArray(r.values))
    ) {
      return `${where}.requirements entries need key, operator and string values`;
    }
  }
  return { ...(v.rawSelector ? { rawSelector: v.rawSelector } : {}), requirements: reqs as SelectorRequirement[] };
}

function parseSubjectAccessReview(v: unknown): SubjectAccessReviewSpec | string {
  if (!isRecord(v)) return 'request body must be a JSON object';
  if (v.kind !== 'SubjectAccessReview') {
    return `kind must be "SubjectAccessReview", got ${JSON.stringify(v.kind ?? null)}`;
  }
  const apiVersion = v.apiVersion as SubjectAccessReviewApiVersion;
  if (!subjectAccessReviewApiVersions.includes(apiVersion)) {
    return `apiVersion must be one of ${subjectAccessReviewApiVersions.join(', ')}, got ${JSON.stringify(v.apiVersion ?? null)}`;
  }
  const spec = v.spec;
  if (!isRecord(spec)) return 'spec is required';
  // v1beta1 names the field `group` (json:"group"); v1 renamed it to `groups`.
  const groupsField = apiVersion === 'authorization.k8s.io/v1beta1' ? 'group' : 'groups';
  const groups = spec[groupsField] ?? [];
  if (!isStringArray(groups)) return `spec.${groupsField} must be an array of strings`;
  if (!str(spec.user)) return 'spec.user must be a string';
  if (!str(spec.uid)) return 'spec.uid must be a string';
  const extra = spec.extra ?? {};
  if (!isExtra(extra)) return 'spec.extra must map strings to string arrays';
  const user = spec.user ?? '';
  if (user === '' && groups.length === 0) return 'at least one of spec.user or spec.groups must be specified';
  const ra = spec.resourceAttributes ?? undefined;
  const nra = spec.nonResourceAttributes ?? undefined;
  if ((ra === undefined) === (nra === undefined)) {
    return 'exactly one of spec.resourceAttributes or spec.nonResourceAttributes must be specified';
  }
  const base = { apiVersion, user, uid: spec.uid ?? '', groups, extra };
  if (ra !== undefined) {
    if (!isRecord(ra)) return 'spec.resourceAttributes must be an object';
    const keys = ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'] as const;
    for (const k of keys) if (!str(ra[k])) return `spec.resourceAttributes.${k} must be a string`;
    const fieldSelector = parseSelector(ra.fieldSelector, 'spec.resourceAttributes.fieldSelector');
    if (typeof fieldSelector === 'string') return fieldSelector;
    const labelSelector = parseSelector(ra.labelSelector, 'spec.resourceAttributes.labelSelector');
    if (typeof labelSelector === 'string') return labelSelector;
    const s = (k: (typeof keys)[number]) => (ra[k] as string | undefined) ?? '';
    return {
      ...base,
      resourceAttributes: {
        namespace: s('namespace'),
        verb: s('verb'),
        group: s('group'),
        version: s('version'),
        resource: s('resource'),
        subresource: s('subresource'),
        name: s('name'),
        ...(fieldSelector ? { fieldSelector } : {}),
        ...(labelSelector ? { labelSelector } : {}),
      },
    };
  }
  if (!isRecord(nra)) return 'spec.nonResourceAttributes must be an object';
  if (!str(nra.path) || !str(nra.verb)) return 'spec.nonResourceAttributes.path and verb must be strings';
  return { ...base, nonResourceAttributes: { path: nra.path ?? '', verb: nra.verb ?? '' } };
}

function buildStatus(r: unknown): Record<string, unknown> | string {
  if (!isRecord(r)) return 'result is not an object';
  if (typeof r.allowed !== 'boolean') return 'allowed must be a boolean';
  if (r.denied !== undefined && typeof r.denied !== 'boolean') return 'denied must be a boolean';
  if (r.allowed && r.denied) return 'allowed and denied are both true';
  if (!str(r.reason) || !str(r.evaluationError)) return 'reason and evaluationError must be strings';
  const status: Record<string, unknown> = { allowed: r.allowed };
  if (r.denied) status.denied = true;
  if (r.reason) status.reason = r.reason;
  if (r.evaluationError) status.evaluationError = r.evaluationError;
  return status;
}

/** The SAR spec as library RequestAttributes, so an existing `Authorizer` can answer the webhook. */
export function toRequestAttributes(spec: SubjectAccessReviewSpec): RequestAttributes {
  const user: UserInfo = { name: spec.user, uid: spec.uid, groups: spec.groups, extra: spec.extra };
  const r = spec.resourceAttributes;
  if (r) {
    return {
      user,
      verb: r.verb,
      resourceRequest: true,
      path: '',
      apiGroup: r.group,
      apiVersion: r.version,
      namespace: r.namespace,
      resource: r.resource,
      subresource: r.subresource,
      name: r.name,
      ...(r.fieldSelector?.requirements?.length ? { fieldSelectorRequirements: r.fieldSelector.requirements } : {}),
      ...(r.labelSelector?.requirements?.length ? { labelSelectorRequirements: r.labelSelector.requirements } : {}),
    };
  }
  const n = spec.nonResourceAttributes!;
  return {
    user,
    verb: n.verb,
    resourceRequest: false,
    path: n.path,
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
  };
}

/**
 * Adapts a library `Authorizer`: Allow → allowed, Deny → denied, NoOpinion → neither. An error with a non-Allow
 * decision is rethrown (→ 500), as k8s.io/apiserver's WithAuthorization does.
 */
export function authorizeWith(authorizer: Authorizer): AuthorizeReview {
  return async (spec, signal) => {
    const res = await authorizer.authorize(toRequestAttributes(spec), signal);
    if (res.decision === 'Allow') return { allowed: true, reason: res.reason };
    if (res.error) throw res.error;
    return res.decision === 'Deny'
      ? { allowed: false, denied: true, reason: res.reason }
      : { allowed: false, reason: res.reason };
  };
}
