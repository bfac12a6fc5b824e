import { startServer } from '../spawn.js';
import { backend } from './adapters.js';
import { localConfig } from './common.js';
import type { FindingRow, Scenario, ThroughputRow } from './types.js';

export const perConnectionFindingLabel = 'new TLS connection: server CPU of Koa delegatedAuth() over bare node:https';

/**
 * Per-connection cost: every request on a new TLS connection (full handshake, no session resumption), bare node:https
 * vs the README's Koa server (`createSecureServer` + `delegatedAuth()`). The difference per connection is ours:
 * the chain verification once per socket, createSecureServer's TLS setup (CA hint list, session handling).
 */
export const perConnection: Scenario = {
  name: 'per-connection',
  reports: [perConnectionFindingLabel],
  description:
    'new TLS connection per request (no resumption): bare node:https vs Koa delegatedAuth(); CPU per connection',
  async prepare(ctx) {
    const b = await backend(ctx, { countVerifications: true });
    const bare = await startServer(
      'adapter',
      localConfig(ctx, { framework: 'node-http', bare: true, countVerifications: true }),
      ctx.spawnOptions('bare-https-newconn'),
    );
    const ours = await startServer('adapter', { ...b.config, framework: 'koa' }, ctx.spawnOptions('koa-newconn'));
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
          scenario: 'koa-newconn',
          label: 'Koa delegatedAuth(), new connection per request',
          server: ours,
          tls: b.frontProxy,
          newConnectionPerRequest: true,
          backend: b.label,
          baseline: 'bare-https-newconn',
          notes: 'req/s bounded by the load generator (its own handshakes); compare server CPU per connection',
        },
      ],
      findings: (rows) => perConnectionFindings(rows),
      close: async () => {
        await bare.close();
        await ours.close();
      },
    };
  },
};

function perConnectionFindings(rows: readonly ThroughputRow[]): FindingRow[] {
  const get = (n: string) => rows.find((r) => r.scenario === n);
  const bareNew = get('bare-https-newconn');
  const oursNew = get('koa-newconn');
  if (!bareNew || !oursNew) return [];
  const s = oursNew.server ?? {};
  const conns = s.tlsConnections ?? 0;
  const verifyMs = (s['verification.verify.totalMs'] ?? 0) + (s['verification.checkIssued.totalMs'] ?? 0);
  const verifyCalls = (s['verification.verify.calls'] ?? 0) + (s['verification.checkIssued.calls'] ?? 0);
  const extraUsPerConn =
    oursNew.cpuUsPerRequest !== undefined && bareNew.cpuUsPerRequest !== undefined
      ? oursNew.cpuUsPerRequest - bareNew.cpuUsPerRequest
      : NaN;
  // Keep-alive difference of the same pair: what of the per-connection figure is per-request work.
  const bareKeep = get('bare-node-http')?.cpuUsPerRequest;
  const koaKeep = get('koa-front-proxy')?.cpuUsPerRequest;
  const bareKoaKeep = get('bare-koa')?.cpuUsPerRequest;
  const perRequestUs = bareKeep !== undefined && koaKeep !== undefined ? koaKeep - bareKeep : undefined;
  return [
    {
      scenario: 'per-connection',
      label: perConnectionFindingLabel,
      target: 'report (reduce where it is ours)',
      result:
        `+${extraUsPerConn.toFixed(0)} µs server CPU per new connection (${oursNew.cpuUsPerRequest?.toFixed(0)} vs ` +
        `${bareNew.cpuUsPerRequest?.toFixed(0)} µs, ${(oursNew.cpuUsPerRequest! / bareNew.cpuUsPerRequest!).toFixed(2)}×); ` +
        `X509 verify/checkIssued ${verifyCalls} calls on ${conns} connections, ${(conns ? (verifyMs * 1000) / conns : 0).toFixed(0)} µs each` +
        (perRequestUs !== undefined
          ? `; keep-alive: +${perRequestUs.toFixed(0)} µs per request over bare node:https` +
            (bareKoaKeep !== undefined ? ` (Koa itself +${(bareKoaKeep - bareKeep!).toFixed(0)})` : '') +
            `, so ≈ ${(extraUsPerConn - perRequestUs).toFixed(0)} µs is per-connection work`
          : ''),
      pass: null,
      data: { extraUsPerConn, verifyUsPerConn: conns ? (verifyMs * 1000) / conns : 0, perRequestUs, ...s },
      p50Ms: oursNew.p50Ms,
      p99Ms: oursNew.p99Ms,
    },
  ];
}
