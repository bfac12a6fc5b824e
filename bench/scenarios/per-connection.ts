import { startServer } from '../spawn.js';
import { backend } from './full-stack.js';
import { localConfig } from './common.js';
import type { FindingRow, Scenario, ThroughputRow } from './types.js';

/**
 * Per-connection cost: every request on a new TLS connection (full handshake, no session resumption), bare node:https
 * vs the full stack. The stack's extra cost per connection is the front-proxy chain verification (once per socket).
 */
export const perConnection: Scenario = {
  name: 'per-connection',
  description: 'new TLS connection per request (no resumption): bare https vs full stack; verification cost',
  async prepare(ctx) {
    const b = await backend(ctx, { countVerifications: true });
    const bare = await startServer(
      'bare-https',
      localConfig(ctx, { countVerifications: true }),
      ctx.spawnOptions('bare'),
    );
    const full = await startServer('full-stack', b.config, ctx.spawnOptions('full-stack-newconn'));
    return {
      cases: [
        {
          scenario: 'bare-https-newconn',
          label: 'bare node:https, new connection per request',
          server: bare,
          tls: b.frontProxy,
          newConnectionPerRequest: true,
        },
        {
          scenario: 'full-stack-newconn',
          label: 'full stack, new connection per request',
          server: full,
          tls: b.frontProxy,
          newConnectionPerRequest: true,
          backend: b.label,
        },
      ],
      findings: (rows) => perConnectionFindings(rows),
      close: async () => {
        await bare.close();
        await full.close();
      },
    };
  },
};

function perConnectionFindings(rows: readonly ThroughputRow[]): FindingRow[] {
  const get = (n: string) => rows.find((r) => r.scenario === n);
  const bareNew = get('bare-https-newconn');
  const fullNew = get('full-stack-newconn');
  if (!bareNew || !fullNew) return [];
  const s = fullNew.server ?? {};
  const conns = s.tlsConnections ?? 0;
  const verifications = s.chainVerifications ?? 0;
  const verifyMs = (s['verification.verify.totalMs'] ?? 0) + (s['verification.checkIssued.totalMs'] ?? 0);
  // With the server saturated (one core), 1/rps is its time per request; here every request is also a connection.
  const extraMsPerConn = 1000 / fullNew.rps - 1000 / bareNew.rps;
  const bareKeep = get('bare-https');
  const fullKeep = get('full-stack-allow');
  const perRequestMs = bareKeep && fullKeep ? 1000 / fullKeep.rps - 1000 / bareKeep.rps : undefined;
  return [
    {
      scenario: 'per-connection',
      label: 'chain verifications per new connection',
      target: '1 per socket (per trust version)',
      result: `${verifications} verifications / ${conns} connections = ${(conns ? verifications / conns : NaN).toFixed(2)}`,
      pass: conns > 0 && Math.abs(verifications / conns - 1) < 0.05,
      data: { ...s },
    },
    {
      scenario: 'per-connection',
      label: 'per-connection cost of the stack',
      target: 'report',
      result:
        `${extraMsPerConn.toFixed(3)} ms server time per connection over bare https ` +
        `(of which X509 verify/checkIssued ${(conns ? verifyMs / conns : 0).toFixed(3)} ms)` +
        (perRequestMs !== undefined ? `; keep-alive: ${perRequestMs.toFixed(3)} ms per request` : ''),
      pass: null,
      data: { extraMsPerConn, verifyMsPerConn: conns ? verifyMs / conns : 0, perRequestMs },
      p50Ms: fullNew.p50Ms,
      p99Ms: fullNew.p99Ms,
    },
  ];
}
