import { startServer } from '../spawn.js';
import { localConfig } from './common.js';
import type { Scenario } from './types.js';

function baseline(name: string, label: string, description: string): Scenario {
  return {
    name,
    description,
    async prepare(ctx) {
      const server = await startServer(name, localConfig(ctx), ctx.spawnOptions(name));
      return {
        cases: [{ scenario: name, label, server, tls: ctx.pki.frontProxyClient }],
        close: () => server.close(),
      };
    },
  };
}

export const bareHttps = baseline(
  'bare-https',
  'bare node:https',
  'node:https, same TLS setup (requestCert), trivial handler, no auth',
);
export const bareKoa = baseline(
  'bare-koa',
  'bare Koa',
  'Koa 3 on node:https, same TLS setup, trivial handler, no auth',
);
