import assert from 'node:assert/strict';
import { createCertificate } from '../../lib/dev-pki/index.js';
import type { ConformanceCase, ConformanceContext, DirectRequest, DirectResponse } from '../types.js';
import { gvPath, reviewedUser } from './support.js';

const spoofedUser = 'kda-conformance:spoofed-admin';

/** A SelfSubjectReview carrying a spoofed front-proxy identity (a system:masters member, so a success would show). */
function spoofRequest(ctx: ConformanceContext, clientCert?: DirectRequest['clientCert']): DirectRequest {
  return {
    method: 'POST',
    path: `${gvPath(ctx)}/selfsubjectreviews`,
    headers: {
      'x-remote-user': spoofedUser,
      'x-remote-group': ['system:masters', 'kda-conformance:spoofed'],
      'x-remote-extra-scopes': 'everything',
    },
    body: {},
    ...(clientCert ? { clientCert } : {}),
  };
}

/**
 * Refused at the handshake, or 401/403 that does not name the spoofed user: fine. Anything else fails. A refusal
 * counts only while the server answers otherwise, so a dead server or port-forward never passes for a refusal.
 */
async function assertNotSpoofed(ctx: ConformanceContext, res: DirectResponse): Promise<string> {
  if (res.error) {
    const health = await ctx.direct({ path: '/healthz' });
    assert.equal(
      health.status,
      200,
      `server unreachable (${health.error ?? health.text}), so "${res.error}" proves nothing`,
    );
    return `refused: ${res.error}`;
  }
  const asUser = reviewedUser(res.body)?.username;
  assert.notEqual(asUser, spoofedUser, `the server accepted the spoofed identity: ${res.text}`);
  assert.ok(res.status === 401 || res.status === 403, `expected 401 or 403, got ${res.status}: ${res.text}`);
  assert.ok(!res.text.includes(spoofedUser), `the answer names the spoofed user: ${res.text}`);
  const message = (res.body as { message?: string } | undefined)?.message ?? res.text;
  return `${res.status}: ${message.slice(0, 160)}`;
}

export const spoofingCases: readonly ConformanceCase[] = [
  {
    name: 'direct call with a spoofed X-Remote-User and no client certificate is never that identity',
    async run(ctx) {
      const res = await ctx.direct(spoofRequest(ctx));
      const detail = await assertNotSpoofed(ctx, res);
      // Without a certificate the request is anonymous; with anonymous auth on, the SAR denies system:anonymous.
      if (res.status === 403) assert.match(res.text, /system:anonymous/);
      return detail;
    },
  },
  {
    name: 'direct call with a spoofed X-Remote-User and a client certificate from another CA is never that identity',
    async run(ctx) {
      const otherCa = createCertificate({ commonName: 'kda-conformance-rogue-ca', isCA: true });
      const rogue = createCertificate({
        commonName: 'front-proxy-client',
        organizations: ['system:masters'],
        issuer: otherCa,
        extKeyUsage: ['clientAuth'],
      });
      return assertNotSpoofed(
        ctx,
        await ctx.direct(spoofRequest(ctx, { certPem: rogue.certPem, keyPem: rogue.keyPem })),
      );
    },
  },
  {
    name: 'direct call with a spoofed X-Remote-User and a front-proxy-CA certificate whose CN is not allowed is never that identity',
    requires: ['frontProxyCaKey'],
    skipReason: 'needs the front-proxy CA private key, which a cluster does not expose through its API',
    async run(ctx) {
      const ca = ctx.frontProxyCa!;
      const issue = (cn: string) => {
        const c = createCertificate({ commonName: cn, issuer: ca, extKeyUsage: ['clientAuth'] });
        return { certPem: c.certPem, keyPem: c.keyPem };
      };
      const detail = await assertNotSpoofed(
        ctx,
        await ctx.direct(spoofRequest(ctx, issue('kda-conformance-not-allowed'))),
      );
      // Control: the same request with the allowed CN is accepted, so the refusal above is about the CN.
      const control = await ctx.direct(spoofRequest(ctx, issue('front-proxy-client')));
      assert.equal(control.status, 201, `control with CN=front-proxy-client: ${control.error ?? control.text}`);
      assert.equal(reviewedUser(control.body)?.username, spoofedUser);
      return `${detail}; control with CN=front-proxy-client accepted`;
    },
  },
];
