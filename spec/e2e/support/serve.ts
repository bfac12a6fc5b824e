// Servers behind the real aggregator for the e2e specs: `kube-delegated-auth serve` spawned as a user runs it
// (`tsx cli/main.ts serve …`), and an in-process Koa app behind delegatedAuth() (`startDelegatedAuthServer`), each
// on 127.0.0.1 and a port the kernel picks.
import type { ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import { Agent } from 'undici';
import type { ControlPlane } from '../../../harness/control-plane.js';
import type { KubeClient } from '../../../harness/kube.js';
import {
  prepareExtensionServer,
  type ExtensionServerSetup,
  type ExtensionServerSetupOptions,
  type RegisteredApiService,
} from '../../../harness/register-apiservice.js';
import { delegatedAuth, type KoaDelegatedAuth, type KoaDelegatedAuthOptions } from '../../../lib/koa/delegated-auth.js';
import { createSecureServer, type SecureServer } from '../../../lib/server/secure-server.js';
import { startListening } from '../../support/programs.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A running `serve`. */
export interface ServeProcess {
  readonly child: ChildProcess;
  /** The port it listens on (from its `listening on https://…:<port>` line). */
  readonly port: number;
  /** Everything it wrote so far, stdout and stderr together. */
  output(): string;
  /** SIGTERM when it still runs, then waits for it to exit. */
  stop(): Promise<void>;
}

/** `--kubeconfig`, `--tls-cert-file` and `--tls-private-key-file` of a prepared extension server. */
export function servingFlags(setup: ExtensionServerSetup): string[] {
  return [
    '--kubeconfig',
    setup.kubeconfigPath,
    '--tls-cert-file',
    setup.servingCertPath,
    '--tls-private-key-file',
    setup.servingKeyPath,
  ];
}

/**
 * Spawns `serve` with `args` plus `--bind-address 127.0.0.1 --secure-port 0` and resolves once it says where it
 * listens; rejects with its output when it exits first, or (killing it) when `timeoutMs`, if given, passes first.
 */
export async function startServe(
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {},
): Promise<ServeProcess> {
  const serve = await startListening(
    process.execPath,
    [
      '--import',
      'tsx',
      join(repoRoot, 'cli/main.ts'),
      'serve',
      ...args,
      '--bind-address',
      '127.0.0.1',
      '--secure-port',
      '0',
    ],
    {
      cwd: repoRoot,
      name: 'serve',
      ...(options.env && { env: options.env }),
      timeoutMs: options.timeoutMs ?? Number.POSITIVE_INFINITY,
    },
  );
  return {
    child: serve.child,
    port: serve.port,
    output: serve.output,
    stop: async () => {
      await serve.stop();
    },
  };
}

/** What `startDelegatedAuthServer` serves, and whether the aggregator routes to it. */
export interface DelegatedAuthServerOptions extends ExtensionServerSetupOptions {
  /** delegatedAuth() options besides `kubeconfig` (the prepared identity's). */
  readonly auth?: Omit<KoaDelegatedAuthOptions, 'kubeconfig'>;
  /** The response body of every request that passes authentication and authorization. */
  readonly respond: (ctx: Koa.Context) => unknown;
  /** Register the APIService and wait until kube-apiserver routes the group-version. Default true. */
  readonly register?: boolean;
}

/** An in-process delegatedAuth() server, prepared (PKI, identity, its RBAC) and, unless told not to, registered. */
export interface DelegatedAuthServer {
  readonly setup: ExtensionServerSetup;
  readonly auth: KoaDelegatedAuth;
  readonly server: SecureServer;
  /** `https://localhost:<port>` (the serving certificate names localhost). */
  readonly url: string;
  /** An undici Agent that trusts the serving CA, with `tls` as its client certificate; `close()` closes it. */
  agent(tls?: { readonly cert: string; readonly key: string }): Agent;
  /** Unregisters the APIService (a leftover whose server is gone breaks legacy discovery, kubectl on 1.20), closes. */
  close(): Promise<void>;
}

/**
 * The setup every delegatedAuth() e2e spec shares: `prepareExtensionServer` (serving PKI, identity kubeconfig,
 * `system:auth-delegator` + ConfigMap reader RBAC), delegatedAuth() started from that kubeconfig, a Koa app answering
 * `respond(ctx)` behind it on createSecureServer, and the APIService registered once discovery serves it.
 */
export async function startDelegatedAuthServer(
  cp: ControlPlane,
  options: DelegatedAuthServerOptions,
): Promise<DelegatedAuthServer> {
  const setup = await prepareExtensionServer(cp, options);
  const auth = delegatedAuth({ ...options.auth, kubeconfig: setup.kubeconfigPath });
  const agents: Agent[] = [];
  let server: SecureServer | undefined;
  let registration: RegisteredApiService | undefined;
  const close = async () => {
    await registration?.unregister().catch(() => undefined);
    await Promise.all(agents.map((a) => a.close()));
    await server?.close();
    await auth.close();
  };
  try {
    await auth.start();
    const app = new Koa();
    app.silent = true;
    app.use(auth.middleware);
    app.use((ctx) => {
      ctx.body = options.respond(ctx);
    });
    server = createSecureServer({
      handler: app.callback(),
      tlsCertFile: setup.servingCertPath,
      tlsPrivateKeyFile: setup.servingKeyPath,
      clientCA: auth.trust.clientCA,
      requestHeaderCA: auth.trust.requestHeaderCA,
      bindAddress: '127.0.0.1',
      securePort: 0,
    });
    await server.listen();
    if (options.register !== false) registration = await setup.register(server.port);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    setup,
    auth,
    server,
    url: `https://localhost:${server.port}`,
    agent(tls) {
      const a = new Agent({
        connect: { ca: setup.servingPki.ca.certPem, servername: 'localhost', ...tls },
        connections: 64,
      });
      agents.push(a);
      return a;
    },
    close,
  };
}

/**
 * A ClusterRole `name` allowing `verbs` on `resources` of `group`, bound to `users`. Returns once RBAC's cache
 * allows it (`KubeClient.apply` waits for a binding to take effect).
 */
export async function grantResourceAccess(
  kube: KubeClient,
  name: string,
  rule: { readonly group: string; readonly resources: readonly string[]; readonly verbs: readonly string[] },
  users: readonly string[],
): Promise<void> {
  await kube.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name },
    rules: [{ apiGroups: [rule.group], resources: rule.resources, verbs: rule.verbs }],
  });
  await kube.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: users.map((u) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: u })),
  });
}
