// Doctor checks: may this identity read the ConfigMap and create TokenReviews and SubjectAccessReviews (the
// system:auth-delegator and extension-apiserver-authentication-reader bindings)?
import { rolebindingFixCommand } from '../cluster/kubeconfig.js';
import type { RestClient } from '../cluster/rest-client.js';
import type { DoctorCheck } from './report.js';
import { authDelegatorFix, configMapName, describeError } from './fixes.js';
async function canI(
  client: RestClient,
  attrs: Record<string, string>,
): Promise<{ allowed: boolean; reason?: string; error?: string }> {
  try {
    const r = await client.post<{ status?: { allowed?: boolean; reason?: string; evaluationError?: string } }>(
      '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: attrs },
      },
    );
    return { allowed: r.status?.allowed === true, ...(r.status?.reason && { reason: r.status.reason }) };
  } catch (err) {
    return { allowed: false, error: describeError(err) };
  }
}

export async function rbacChecks(
  client: RestClient,
  identity: string | undefined,
  checks: DoctorCheck[],
): Promise<void> {
  const cm = { namespace: 'kube-system', group: '', resource: 'configmaps', name: configMapName };
  const verbs = ['get', 'list', 'watch'];
  const cmResults = await Promise.all(verbs.map((verb) => canI(client, { ...cm, verb })));
  const denied = verbs.filter((_, i) => !cmResults[i]!.allowed);
  const error = cmResults.find((r) => r.error)?.error;
  checks.push(
    denied.length === 0
      ? { id: 'rbac.configmap', status: 'pass', message: `may get, list and watch kube-system/${configMapName}` }
      : {
          id: 'rbac.configmap',
          status: 'fail',
          message: error
            ? `cannot ask whether it may read kube-system/${configMapName}: ${error}`
            : `may not ${denied.join(', ')} kube-system/${configMapName}`,
          fix: rolebindingFixCommand(identity),
        },
  );
  const reviews = [
    { id: 'rbac.tokenreviews', group: 'authentication.k8s.io', resource: 'tokenreviews' },
    { id: 'rbac.subjectaccessreviews', group: 'authorization.k8s.io', resource: 'subjectaccessreviews' },
  ];
  for (const r of reviews) {
    const res = await canI(client, { verb: 'create', group: r.group, resource: r.resource });
    checks.push(
      res.allowed
        ? { id: r.id, status: 'pass', message: `may create ${r.resource}.${r.group}` }
        : {
            id: r.id,
            status: 'fail',
            message: res.error
              ? `cannot ask whether it may create ${r.resource}.${r.group}: ${res.error}`
              : `may not create ${r.resource}.${r.group}`,
            fix: authDelegatorFix(identity),
          },
    );
  }
}
