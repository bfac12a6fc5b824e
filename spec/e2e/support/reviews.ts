// Counting the SubjectAccessReviews an extension server sent, in kube-apiserver's audit log, without a fixed sleep.
import { randomUUID } from 'node:crypto';
import { auditMark, findReviews, type AuditMark } from '../../../harness/audit-log.js';
import type { ControlPlane } from '../../../harness/control-plane.js';
import { waitFor } from '../../support/wait-for.js';

/** The `spec` of the SubjectAccessReviews `identity` sent after `mark` about users `about` accepts, in log order. */
export function reviewedSpecs(
  cp: ControlPlane,
  identity: string,
  mark: AuditMark,
  about: (user: string) => boolean,
): { user?: string; groups?: string[]; resourceAttributes?: object }[] {
  return findReviews(cp.auditLogPath, 'SubjectAccessReview', { after: mark, user: identity })
    .map((r) => r.request.spec as { user?: string; groups?: string[]; resourceAttributes?: object })
    .filter((s) => about(String(s.user)));
}

/**
 * The first SubjectAccessReview `identity` sent after `mark` about `user`. kube-apiserver's log backend writes a
 * review's event after its response is sent, so it is waited for: polled, as a file has no event to wait on.
 */
export function reviewAbout(
  cp: ControlPlane,
  identity: string,
  mark: AuditMark,
  user: string,
): Promise<{ user?: string; groups?: string[]; resourceAttributes?: object }> {
  return waitFor(() => reviewedSpecs(cp, identity, mark, (u) => u === user)[0], {
    what: `the SubjectAccessReview about ${user} from ${identity} in ${cp.auditLogPath}`,
  });
}

/**
 * Resolves once every SubjectAccessReview `identity` sent for requests already answered is in the audit log, so
 * that a count taken next is final. No event says "the log has caught up", so a marker stands in for one: `probe`
 * sends one request as a user never seen before (its server must review it); that review is sent after every
 * earlier answer, and kube-apiserver's blocking log backend writes each event in the request's own goroutine, so
 * once the probe's review is logged the earlier ones are too. Polls the log file for it (a file has no event to wait
 * on) until `timeoutMs`, and fails naming the probe user.
 */
export async function reviewsSettled(
  cp: ControlPlane,
  identity: string,
  probe: (user: string) => Promise<unknown>,
  timeoutMs = 30_000,
): Promise<void> {
  const user = `probe-${randomUUID().slice(0, 8)}`;
  const mark = auditMark(cp.auditLogPath);
  await probe(user);
  await waitFor(() => reviewedSpecs(cp, identity, mark, (u) => u === user).length > 0, {
    what: `the SubjectAccessReview of probe user ${user} from ${identity} in ${cp.auditLogPath}`,
    timeoutMs,
  });
}
