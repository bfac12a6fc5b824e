import { runMicro } from '../micro.js';
import type { Scenario } from './types.js';

/** Per-layer costs without the network (bench/micro.ts), so the report can say which step costs what. */
export const micro: Scenario = {
  name: 'micro',
  description: 'per-layer µs of the request path in one process (request view, authn, request info, authz)',
  async run(ctx) {
    const results = await runMicro(ctx.settings.durationMs >= 10_000 ? 100_000 : 20_000);
    for (const r of results) ctx.log(`  ${r.usPerOp.toFixed(2).padStart(7)} µs  ${r.name}`);
    return {
      throughput: [],
      findings: results.map((r) => ({
        scenario: 'micro',
        label: `internals (not the user path): ${r.name}`,
        target: 'report',
        result: `${r.usPerOp.toFixed(2)} µs`,
        pass: null,
        data: { usPerOp: r.usPerOp },
      })),
    };
  },
};
