import assert from 'node:assert/strict';
import { auditMark, readAuditEvents, waitForReviews } from '../../harness/audit-log.js';
import type { ConformanceCase } from '../types.js';
import { gvPath, shortId } from './support.js';

const healthPaths = ['/healthz', '/readyz', '/livez'] as const;

export const healthCases: readonly ConformanceCase[] = [
  {
    name: '/healthz, /readyz and /livez answer ok without credentials',
    async run(ctx) {
      for (const path of healthPaths) {
        const res = await ctx.direct({ path });
        assert.equal(res.status, 200, `${path}: ${res.error ?? res.text}`);
        assert.equal(res.text, 'ok', path);
        const verbose = await ctx.direct({ path: `${path}?verbose` });
        assert.equal(verbose.status, 200, `${path}?verbose: ${verbose.text}`);
        assert.match(verbose.text, new RegExp(`${path.slice(1)} check passed`));
      }
    },
  },
  {
    name: '/healthz, /readyz and /livez send no SubjectAccessReview (audit log)',
    requires: ['auditLog'],
    skipReason: "needs kube-apiserver's audit log, which a cluster does not expose through its API",
    async run(ctx) {
      const log = ctx.auditLogPath!;
      const mark = auditMark(log);
      for (let i = 0; i < 3; i++)
        for (const path of healthPaths) assert.equal((await ctx.direct({ path })).status, 200);
      // Control: an anonymous resource request does need one, so the audit log is known to show this server's SARs.
      const ns = `kda-conformance-control-${shortId()}`;
      const control = await ctx.direct({ path: `${gvPath(ctx)}/namespaces/${ns}/widgets` });
      assert.equal(control.status, 403, control.text);
      // Wait for the control's review itself (the server reviews other callers, e.g. the aggregator's polls, too).
      const sars = await waitForReviews(log, 'SubjectAccessReview', {
        after: mark,
        user: ctx.serverIdentity,
        match: (r) =>
          (r.request.spec as { resourceAttributes?: { namespace?: string } }).resourceAttributes?.namespace === ns,
      });
      const forHealth = readAuditEvents(log, {
        after: mark,
        user: ctx.serverIdentity,
        resources: ['subjectaccessreviews'],
      })
        .map(
          (e) =>
            (e.requestObject?.spec as { nonResourceAttributes?: { path?: string } } | undefined)?.nonResourceAttributes
              ?.path,
        )
        .filter((p) => p !== undefined && (healthPaths as readonly string[]).includes(p));
      assert.deepEqual(forHealth, [], 'SubjectAccessReviews for health paths');
      return `9 health requests, 0 SubjectAccessReviews; control request produced ${sars.length}`;
    },
  },
];
