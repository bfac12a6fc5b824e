import { readFileSync, statSync } from 'node:fs';
import { waitFor } from './wait-for.js';

/** The fields of an `audit.k8s.io/v1` Event the harness uses. */
export interface AuditEvent {
  readonly auditID: string;
  readonly stage: string;
  readonly verb: string;
  readonly requestURI: string;
  readonly user: { readonly username?: string; readonly groups?: readonly string[] };
  readonly impersonatedUser?: { readonly username?: string; readonly groups?: readonly string[] };
  readonly objectRef?: {
    readonly resource?: string;
    readonly namespace?: string;
    readonly name?: string;
    readonly apiGroup?: string;
    readonly apiVersion?: string;
    readonly subresource?: string;
  };
  readonly responseStatus?: { readonly code?: number };
  readonly requestObject?: Record<string, unknown>;
  readonly responseObject?: Record<string, unknown>;
  readonly requestReceivedTimestamp: string;
  readonly stageTimestamp: string;
}

/** A position in the audit log: only events written after it are read. */
export interface AuditMark {
  readonly offset: number;
}

/** The current end of the audit log; pass it as `after` to see only later events. */
export function auditMark(path: string): AuditMark {
  try {
    return { offset: statSync(path).size };
  } catch {
    return { offset: 0 };
  }
}

export interface AuditQuery {
  /** Only events written after this mark (byte offset; robust against clock resolution). */
  readonly after?: AuditMark;
  /** Only requests received at or after this time. */
  readonly since?: Date;
  /** Only requests made by this user (the authenticated user, e.g. the extension server's identity). */
  readonly user?: string;
  /** Only events whose `objectRef.resource` is one of these (e.g. `subjectaccessreviews`). */
  readonly resources?: readonly string[];
  readonly verb?: string;
}

/** Reads `ResponseComplete` events (one JSON object per line), filtered by `query`. Missing file = no events. */
export function readAuditEvents(path: string, query: AuditQuery = {}): AuditEvent[] {
  let text: string;
  try {
    text = readFileSync(path)
      .subarray(query.after?.offset ?? 0)
      .toString('utf8');
  } catch {
    return [];
  }
  const since = query.since?.getTime();
  const out: AuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let ev: AuditEvent;
    try {
      ev = JSON.parse(line) as AuditEvent;
    } catch {
      continue; // a line being written right now
    }
    if (ev.stage !== 'ResponseComplete') continue;
    if (query.user !== undefined && ev.user?.username !== query.user) continue;
    if (query.verb !== undefined && ev.verb !== query.verb) continue;
    if (query.resources && !query.resources.includes(ev.objectRef?.resource ?? '')) continue;
    if (since !== undefined && Date.parse(ev.requestReceivedTimestamp) < since) continue;
    out.push(ev);
  }
  return out;
}

export type ReviewKind = 'SubjectAccessReview' | 'TokenReview';

const reviewResources: Record<ReviewKind, readonly string[]> = {
  SubjectAccessReview: ['subjectaccessreviews'],
  TokenReview: ['tokenreviews'],
};

/** A review creation seen in the audit log: who sent it, and the request and response bodies. */
export interface AuditedReview {
  readonly event: AuditEvent;
  readonly user: string | undefined;
  readonly request: Record<string, unknown>;
  readonly response: Record<string, unknown> | undefined;
  readonly code: number | undefined;
}

/** SubjectAccessReview / TokenReview creations (cluster-scoped `create`), in log order. */
export function findReviews(
  path: string,
  kind: ReviewKind,
  query: Omit<AuditQuery, 'resources' | 'verb'> = {},
): AuditedReview[] {
  return readAuditEvents(path, { ...query, resources: reviewResources[kind], verb: 'create' })
    .filter((ev) => ev.objectRef?.namespace === undefined && ev.requestObject !== undefined)
    .map((ev) => ({
      event: ev,
      user: ev.user?.username,
      request: ev.requestObject!,
      response: ev.responseObject,
      code: ev.responseStatus?.code,
    }));
}

/** How many reviews of `kind` match. */
export function countReviews(
  path: string,
  kind: ReviewKind,
  query: Omit<AuditQuery, 'resources' | 'verb'> = {},
): number {
  return findReviews(path, kind, query).length;
}

/**
 * Polls until at least `min` reviews match `query` and `match` (the log backend writes after the response is sent),
 * then returns them. Throws with the count seen on timeout. A poll, not an event: the audit log is a file another
 * process appends to. Give `match` whenever the caller looks for particular reviews: the same identity may send
 * others meanwhile (an extension server reviews the aggregator's own discovery and OpenAPI calls), and "at least one
 * review" is then satisfied before the one wanted is written.
 */
export async function waitForReviews(
  path: string,
  kind: ReviewKind,
  query: Omit<AuditQuery, 'resources' | 'verb'> & {
    readonly min?: number;
    readonly timeoutMs?: number;
    readonly match?: (review: AuditedReview) => boolean;
  } = {},
): Promise<AuditedReview[]> {
  const min = query.min ?? 1;
  let seen = 0;
  return waitFor(
    () => {
      const found = findReviews(path, kind, query).filter((r) => query.match?.(r) ?? true);
      seen = found.length;
      return found.length >= min && found;
    },
    {
      what: `at least ${min} ${query.match ? 'matching ' : ''}${kind} in ${path}`,
      timeoutMs: query.timeoutMs ?? 10_000,
      detail: () => `found ${seen}`,
    },
  );
}

/**
 * Polls until some `ResponseComplete` event matching `query` satisfies `match`, then returns the matching events.
 * A poll, not an event: the audit log is a file another process appends to.
 */
export async function waitForAuditEvents(
  path: string,
  match: (ev: AuditEvent) => boolean,
  query: AuditQuery & { readonly timeoutMs?: number; readonly what?: string } = {},
): Promise<AuditEvent[]> {
  return waitFor(
    () => {
      const found = readAuditEvents(path, query).filter(match);
      return found.length > 0 && found;
    },
    { what: `${query.what ?? 'an audit event'} in ${path}`, timeoutMs: query.timeoutMs ?? 10_000 },
  );
}
