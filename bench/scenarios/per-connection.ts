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
      ctx.spawnOptions('bare-https-newconn'),
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
          notes: 'req/s bounded by the load generator (undici connection setup); compare server CPU per connection',
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
  // Server CPU per request (= per connection here) is robust against a busy load generator and noisy neighbours;
  // the req/s of this case is bounded by the client's own handshakes.
  const cpuNew = fullNew.cpuUsPerRequest !== undefined && bareNew.cpuUsPerRequest !== undefined;
  const extraUsPerConn = cpuNew ? fullNew.cpuUsPerRequest! - bareNew.cpuUsPerRequest! : NaN;
  const bareKeep = get('bare-https');
  const fullKeep = get('full-stack-allow');
  const perRequestUs =
    bareKeep?.cpuUsPerRequest !== undefined && fullKeep?.cpuUsPerRequest !== undefined
      ? fullKeep.cpuUsPerRequest - bareKeep.cpuUsPerRequest
      : undefined;
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
        `+${extraUsPerConn.toFixed(0)} µs server CPU per new connection over bare https ` +
        `(full handshake ${bareNew.cpuUsPerRequest?.toFixed(0)} µs; X509 verify/checkIssued ${(conns ? (verifyMs * 1000) / conns : 0).toFixed(0)} µs)` +
        (perRequestUs !== undefined
          ? `; keep-alive: +${perRequestUs.toFixed(0)} µs per request, so ≈ ${(extraUsPerConn - perRequestUs).toFixed(0)} µs is per-connection work`
          : ''),
      pass: null,
      data: { extraUsPerConn, verifyUsPerConn: conns ? (verifyMs * 1000) / conns : 0, perRequestUs },
      p50Ms: fullNew.p50Ms,
      p99Ms: fullNew.p99Ms,
    },
  ];
}
