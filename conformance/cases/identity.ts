import assert from 'node:assert/strict';
import { auditMark, waitForReviews } from '../../harness/audit-log.js';
import { createCertificate } from '../../lib/dev-pki/index.js';
import type { ConformanceCase, ConformanceContext } from '../types.js';
import { gvPath, sanitizeForbiddenMessage, reviewedUser, serviceAccountToken, testIdentities } from './support.js';

/** responsewriters.Forbidden's message for a namespaced list of widgets without a SAR reason. */
function forbiddenListMessage(ctx: ConformanceContext, user: string, namespace: string): string {
  const inner = `User "${user}" cannot list resource "widgets" in API group "${ctx.names.group}" in the namespace "${namespace}"`;
  return `widgets.${ctx.names.group} is forbidden: ${sanitizeForbiddenMessage(inner)}`;
}

function expectedForbiddenStatus(ctx: ConformanceContext, message: string): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: 'Forbidden',
    details: { group: ctx.names.group, kind: 'widgets' },
    code: 403,
  };
}

export const identityCases: readonly ConformanceCase[] = [
  {
    name: 'a user without RBAC gets the 403 Status with the exact Kubernetes message (from the server, and via kube-apiserver)',
    async run(ctx) {
      const ids = await testIdentities(ctx);
      const ns = ctx.names.testNamespace;
      const path = `${gvPath(ctx)}/namespaces/${ns}/widgets`;

      // Straight to the server with a real token: TokenReview authenticates it, the SubjectAccessReview says no, and
      // the sample server itself writes the Status.
      const token = await serviceAccountToken(ctx, ids.noRbacServiceAccount);
      const saUser = `system:serviceaccount:${ns}:${ids.noRbacServiceAccount}`;
      const direct = await ctx.direct({ path, headers: { authorization: `Bearer ${token}` } });
      assert.equal(direct.status, 403, `direct: ${direct.error ?? direct.text}`);
      assert.deepEqual(direct.body, expectedForbiddenStatus(ctx, forbiddenListMessage(ctx, saUser, ns)));

      // Through the aggregator kube-apiserver authorizes first (same RBAC, same message format).
      const viaKas = await ctx.admin.request('GET', path, { impersonate: { user: ids.noRbacUser } });
      assert.equal(viaKas.status, 403, viaKas.text);
      assert.deepEqual(viaKas.body, expectedForbiddenStatus(ctx, forbiddenListMessage(ctx, ids.noRbacUser, ns)));
      if (!ctx.frontProxyCa) return `direct: ${JSON.stringify((direct.body as { message: string }).message)}`;

      // A front-proxy identity with HTML-like characters: Go escapes & < > (not quotes) in the message.
      const proxyCert = createCertificate({
        commonName: 'front-proxy-client',
        issuer: ctx.frontProxyCa,
        extKeyUsage: ['clientAuth'],
      });
      const oddUser = `${ns}:<b>no-rbac</b>&co`;
      const odd = await ctx.direct({
        path,
        headers: { 'x-remote-user': oddUser },
        clientCert: { certPem: proxyCert.certPem, keyPem: proxyCert.keyPem },
      });
      assert.equal(odd.status, 403, odd.error ?? odd.text);
      assert.deepEqual(odd.body, expectedForbiddenStatus(ctx, forbiddenListMessage(ctx, oddUser, ns)));
      return `direct: ${JSON.stringify((odd.body as { message: string }).message)}`;
    },
  },
  {
    name: 'impersonation (Impersonate-User, several Impersonate-Group incl. a comma, percent-encoded Impersonate-Extra-) reaches the server as exactly that identity',
    async run(ctx) {
      const ids = await testIdentities(ctx);
      const user = `${ctx.names.testNamespace}:impersonated`;
      const groups = [ids.editorsGroup, 'kda-conformance:with,comma', 'kda-conformance:third'];
      const extra = { 'example.com/scope': ['read', 'write'], reason: ['conformance run'] };
      const mark = ctx.auditLogPath ? auditMark(ctx.auditLogPath) : undefined;
      const res = await ctx.admin.request('POST', `${gvPath(ctx)}/selfsubjectreviews`, {
        body: { apiVersion: `${ctx.names.group}/${ctx.names.version}`, kind: 'SelfSubjectReview' },
        impersonate: { user, groups, extra },
      });
      assert.equal(res.status, 201, res.text);
      // kube-apiserver adds system:authenticated to impersonated non-service-account users.
      const expected = { username: user, groups: [...groups, 'system:authenticated'], extra };
      assert.deepEqual(reviewedUser(res.body), expected);
      if (!ctx.auditLogPath || !mark) return 'SelfSubjectReview matches (audit log not available)';
      // The server's SubjectAccessReview for this request carried the same identity.
      // Wait for this user's review itself: the server reviews other callers (the aggregator's polls) meanwhile.
      const mine = await waitForReviews(ctx.auditLogPath, 'SubjectAccessReview', {
        after: mark,
        user: ctx.serverIdentity,
        match: (r) => (r.request.spec as { user?: string }).user === user,
      });
      assert.equal(mine.length, 1, `expected one SAR for ${user}, got ${mine.length}`);
      const spec = mine[0]!.request.spec as { groups?: string[]; extra?: Record<string, string[]> };
      assert.deepEqual({ groups: spec.groups, extra: spec.extra }, { groups: expected.groups, extra });
      return "SelfSubjectReview and the server's SubjectAccessReview (audit log) match";
    },
  },
  {
    name: 'a direct call with a real service-account bearer token is authenticated through TokenReview',
    async run(ctx) {
      const ids = await testIdentities(ctx);
      const ns = ctx.names.testNamespace;
      const token = await serviceAccountToken(ctx, ids.editorServiceAccount);
      const mark = ctx.auditLogPath ? auditMark(ctx.auditLogPath) : undefined;
      const res = await ctx.direct({
        method: 'POST',
        path: `${gvPath(ctx)}/selfsubjectreviews`,
        headers: { authorization: `Bearer ${token}` },
        body: {},
      });
      assert.equal(res.status, 201, res.error ?? res.text);
      const u = reviewedUser(res.body);
      assert.equal(u?.username, `system:serviceaccount:${ns}:${ids.editorServiceAccount}`);
      for (const g of ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated']) {
        assert.ok(u?.groups?.includes(g), `group ${g} missing from ${JSON.stringify(u?.groups)}`);
      }
      const bad = await ctx.direct({
        method: 'POST',
        path: `${gvPath(ctx)}/selfsubjectreviews`,
        headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` },
        body: {},
      });
      assert.equal(bad.status, 401, `a tampered token: ${bad.error ?? bad.text}`);
      if (!ctx.auditLogPath || !mark) return `as ${u?.username}`;
      // Wait for the successful review itself: the tampered token's may be written first.
      const reviews = await waitForReviews(ctx.auditLogPath, 'TokenReview', {
        after: mark,
        user: ctx.serverIdentity,
        match: (r) => (r.response?.status as { authenticated?: boolean } | undefined)?.authenticated === true,
      });
      return `as ${u?.username}; ${reviews.length} TokenReview(s) by ${ctx.serverIdentity} in the audit log`;
    },
  },
];
