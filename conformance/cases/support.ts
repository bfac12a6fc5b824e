import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient } from '../../harness/kube.js';
import type { ConformanceContext } from '../types.js';

/**
 * Polls `probe` until it returns a value (not undefined); throws with the last state after `timeoutMs`. A thrown
 * error with `fatal: true` ends the wait at once; other errors count as "not yet".
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { readonly timeoutMs?: number; readonly intervalMs?: number; readonly lastState?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let lastError = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if ((err as { fatal?: boolean }).fatal) throw err;
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) {
      const state = opts.lastState?.() ?? lastError;
      throw new Error(
        `timed out after ${opts.timeoutMs ?? 60_000} ms waiting for ${what}${state ? `; last: ${state}` : ''}`,
      );
    }
    await sleep(opts.intervalMs ?? 500);
  }
}

/** node-forge writes CRLF PEM; kube-apiserver stores LF. */
export const normalizePem = (s: string) => s.replace(/\r\n/g, '\n').trim();

export const shortId = () => randomUUID().slice(0, 8);

/** Test identities every run creates in the test namespace (idempotent). */
export interface TestIdentities {
  /** A group bound to the widget-editor ClusterRole of deploy/. */
  readonly editorsGroup: string;
  /** A ServiceAccount bound to the widget-editor ClusterRole. */
  readonly editorServiceAccount: string;
  /** A ServiceAccount without any RBAC. */
  readonly noRbacServiceAccount: string;
  /** A user (impersonated) without any RBAC. */
  readonly noRbacUser: string;
}

const prepared = new WeakMap<ConformanceContext, Promise<TestIdentities>>();

/** Creates the test namespace, service accounts and the editor bindings once per run. */
export function testIdentities(ctx: ConformanceContext): Promise<TestIdentities> {
  let p = prepared.get(ctx);
  if (!p) {
    p = createTestIdentities(ctx);
    prepared.set(ctx, p);
    p.catch(() => prepared.delete(ctx));
  }
  return p;
}

async function createTestIdentities(ctx: ConformanceContext): Promise<TestIdentities> {
  const ns = ctx.names.testNamespace;
  const ids: TestIdentities = {
    editorsGroup: `${ns}:editors`,
    editorServiceAccount: 'editor',
    noRbacServiceAccount: 'no-rbac',
    noRbacUser: `${ns}:no-rbac-user`,
  };
  await ctx.admin.ensureNamespace(ns);
  for (const sa of [ids.editorServiceAccount, ids.noRbacServiceAccount]) {
    await ctx.admin.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: ns } });
  }
  await ctx.admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `${ns}:widget-editors` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ctx.names.editorClusterRole },
    subjects: [
      { kind: 'Group', name: ids.editorsGroup, apiGroup: 'rbac.authorization.k8s.io' },
      { kind: 'ServiceAccount', name: ids.editorServiceAccount, namespace: ns },
    ],
  });
  // kube-apiserver's RBAC authorizer sees new bindings through an informer, a moment after the write.
  const subjects = [
    { user: `${ns}:probe`, groups: [ids.editorsGroup] },
    { user: `system:serviceaccount:${ns}:${ids.editorServiceAccount}`, groups: ['system:serviceaccounts'] },
  ];
  for (const subject of subjects) {
    await eventually(
      `RBAC to allow ${subject.user} to create widgets`,
      async () => {
        const res = await ctx.admin.create<{ status: { allowed: boolean } }>(
          '/apis/authorization.k8s.io/v1/subjectaccessreviews',
          {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              ...subject,
              resourceAttributes: { namespace: ns, verb: 'create', group: ctx.names.group, resource: 'widgets' },
            },
          },
        );
        return res.status.allowed ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  }
  return ids;
}

/** A bearer token for a ServiceAccount of the test namespace (TokenRequest API). */
export function serviceAccountToken(ctx: ConformanceContext, name: string): Promise<string> {
  return ctx.admin.createServiceAccountToken(ctx.names.testNamespace, name, { expirationSeconds: 3600 });
}

/** The admin client impersonating a member of the editors group (not system:masters, so SARs really happen). */
export function editorClient(
  ctx: ConformanceContext,
  ids: TestIdentities,
  user = `${ctx.names.testNamespace}:editor`,
): KubeClient {
  return ctx.admin.impersonating({ user, groups: [ids.editorsGroup] });
}

export function gvPath(ctx: ConformanceContext): string {
  return `/apis/${ctx.names.group}/${ctx.names.version}`;
}

export interface UserInfoJson {
  readonly username?: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** `status.userInfo` of a SelfSubjectReview answer, or undefined. */
export function reviewedUser(body: unknown): UserInfoJson | undefined {
  return (body as { status?: { userInfo?: UserInfoJson } } | undefined)?.status?.userInfo;
}

/** The sanitizer responsewriters.Forbidden applies to its message: `&`, `<`, `>` only ("Quotes are okay"). */
export function sanitizeForbiddenMessage(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
