import assert from 'node:assert/strict';
import { runConformanceCommand } from '../../cli/conformance.js';
import type { ProbeReport } from '../../cli/conformance/output.js';
import type { ConformanceCase } from '../types.js';

/**
 * The generic checks (`kube-delegated-auth conformance`, cli/conformance) pointed at the sample: what any APIService
 * backend must do. The other cases of this suite are the sample-specific ones.
 */
export const probeCases: readonly ConformanceCase[] = [
  {
    name: 'kube-delegated-auth conformance (any-backend checks) passes against the sample',
    async run(ctx) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runConformanceCommand(
        [
          '--kubeconfig',
          ctx.adminKubeconfigPath,
          '--apiservice',
          ctx.names.apiServiceName,
          '--output',
          'json',
          '--csr-timeout',
          '5s',
        ],
        { out: (l) => out.push(l), err: (l) => err.push(l) },
      );
      let report: ProbeReport;
      try {
        report = JSON.parse(out.join('\n')) as ProbeReport;
      } catch {
        assert.fail(`no report (exit ${code}): ${[...out, ...err].join('\n')}`);
      }
      const failed = report.results.filter((r) => r.outcome === 'fail').map((r) => `${r.name}: ${r.detail}`);
      assert.deepEqual(failed, [], 'failed checks');
      assert.deepEqual(report.cleanupProblems, [], 'cleanup');
      assert.equal(code, 0, err.join('\n'));
      const skipped = report.results.filter((r) => r.outcome === 'skip').map((r) => `${r.name} (${r.detail})`);
      return `${report.passed} passed, ${report.skipped} skipped${skipped.length ? `: ${skipped.join('; ')}` : ''}; backend ${report.backend}`;
    },
  },
];
