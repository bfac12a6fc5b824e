// Minimal /healthz, /livez and /readyz with named checks, in Go's output format (`ok`; `?verbose` lists
// `[+]name ok`; a failing check answers 500 with `[-]name failed: reason withheld`). Kept small on purpose: when your
// kube-delegated-auth version exports the health endpoints (`kube-delegated-auth/apiserver`), use those instead —
// they add `?exclude=` and the library's own checks. The check shape is the same: `{ name, check() }`, throw = failing.
import type { Middleware } from 'koa';

export interface HealthCheck {
  readonly name: string;
  check(): void | Promise<void>;
}

const ping: HealthCheck = { name: 'ping', check: () => {} };

export function healthEndpoints(checks: {
  readonly livez: readonly HealthCheck[];
  readonly readyz: readonly HealthCheck[];
}): Middleware {
  // Read per request: checks added after the app is built (the shutdown check needs the server) count too.
  const byPath: Record<string, () => readonly HealthCheck[]> = {
    // /healthz is the old "everything" endpoint; like Go, it keeps passing during the shutdown delay.
    '/healthz': () => [ping, ...checks.livez, ...checks.readyz.filter((c) => c.name !== 'shutdown')],
    '/livez': () => [ping, ...checks.livez],
    '/readyz': () => [ping, ...checks.livez, ...checks.readyz],
  };
  return async function health(ctx, next) {
    const list = ctx.method === 'GET' || ctx.method === 'HEAD' ? byPath[ctx.path]?.() : undefined;
    if (!list) return next();
    const name = ctx.path.slice(1);
    const results = await Promise.all(
      list.map(async (c) => {
        try {
          await c.check();
          return { name: c.name, ok: true };
        } catch {
          return { name: c.name, ok: false };
        }
      }),
    );
    const failed = results.some((r) => !r.ok);
    ctx.set('content-type', 'text/plain; charset=utf-8');
    ctx.set('x-content-type-options', 'nosniff');
    ctx.status = failed ? 500 : 200;
    if (!failed && ctx.query.verbose === undefined) {
      ctx.body = 'ok';
      return;
    }
    const lines = results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: reason withheld`));
    ctx.body = `${lines.join('\n')}\n${name} check ${failed ? 'failed' : 'passed'}\n`;
  };
}
