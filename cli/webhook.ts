import { isIP, type AddressInfo } from 'node:net';
import { flagFile, loadCaBundle, loadServingPair, startupStep } from 'kube-delegated-auth/startup';
import { fileCertKeyPair, type FileCertKeyPairProvider, type Logger, parseGoDuration } from 'kube-delegated-auth';
import { createPinoLogger, type LogLevel } from 'kube-delegated-auth/pino';
import {
  fileMappingSource,
  IdentityMapping,
  withIdentityMapping,
  WebhookServer,
  loadStaticPolicy,
  staticPolicyAuthorizer,
  loadTokenFile,
  staticTokenVerifier,
  subjectAccessReviewWebhook,
  tokenReviewWebhook,
} from 'kube-delegated-auth/webhook';
import {
  formatFlagUsages,
  parseFlags,
  positionalProblems,
  throwFlagProblems,
  type FlagProblem,
  type FlagSpec,
} from './flag-set.js';

const webhookFlags: readonly FlagSpec[] = [
  {
    name: 'token-auth-file',
    kind: 'string',
    help: 'CSV token file as kube-apiserver\'s: token,user,uid,"group1,group2"',
  },
  {
    name: 'mapping-file',
    kind: 'string',
    help: 'identity mapping (YAML/JSON), watched; bad edits keep the last good mapping',
  },
  {
    name: 'mapping-poll-interval',
    kind: 'duration',
    defaultText: '10s',
    help: 're-read interval for the mapping file',
  },
  {
    name: 'authorization-policy-file',
    kind: 'string',
    help: 'static authorization policy (YAML); /authorize is served only with it',
  },
  { name: 'tls-cert-file', kind: 'string', help: 'serving certificate (PEM), required' },
  { name: 'tls-private-key-file', kind: 'string', help: 'serving private key (PEM), required' },
  { name: 'client-ca-file', kind: 'string', help: 'require client certificates signed by this CA bundle' },
  { name: 'bind-address', kind: 'string', defaultText: '0.0.0.0', help: 'the IP address on which to listen' },
  {
    name: 'secure-port',
    kind: 'int',
    defaultText: '8443',
    help: 'the port on which to serve HTTPS; 0 = a free port the kernel picks (Go: 0 = do not serve)',
  },
  { name: 'max-body-bytes', kind: 'int', defaultText: '1048576', help: 'largest accepted review body' },
  {
    name: 'log-level',
    kind: 'string',
    defaultText: 'info',
    help: 'lowest level logged on stderr (JSON lines, or text on a terminal): debug, info, warn, error',
  },
  { name: 'help', short: 'h', kind: 'boolean', help: 'Show this help.' },
];

export const webhookUsage = `Usage: kube-delegated-auth webhook [flags]

Serves kube-apiserver's authentication and authorization webhooks over HTTPS:
  POST /authenticate  TokenReview   (--authentication-token-webhook-config-file)
  POST /authorize     SubjectAccessReview (--authorization-webhook-config-file)
  GET  /healthz, /readyz

Flags:
${formatFlagUsages(webhookFlags)}
`;

/** The `webhook` command's flags, camelCased (`--token-auth-file` → `tokenAuthFile`). */
export interface WebhookCommandOptions {
  /** kube-apiserver-format token CSV; enables `POST /authenticate`. */
  readonly tokenAuthFile?: string;
  /** Identity mapping document (YAML/JSON), watched; needs `tokenAuthFile`. */
  readonly mappingFile?: string;
  /** Mapping re-read interval in ms (on top of fs.watch). Default 10000 (`10s`). */
  readonly mappingPollInterval: number;
  /** Static authorization policy; enables `POST /authorize`. */
  readonly authorizationPolicyFile?: string;
  /** Serving certificate chain (PEM file). Required. */
  readonly tlsCertFile: string;
  /** Serving private key (PEM file). Required. */
  readonly tlsPrivateKeyFile: string;
  /** When set, clients (kube-apiserver) must present a certificate signed by this bundle. */
  readonly clientCaFile?: string;
  /** Default `0.0.0.0`. */
  readonly bindAddress: string;
  /** Default 8443; 0 picks a free port. */
  readonly securePort: number;
  /** Largest review body in bytes. Default 1048576. */
  readonly maxBodyBytes: number;
  /** pino level: debug, info (default), warn, error. */
  readonly logLevel: string;
  /** Print usage and exit. */
  readonly help: boolean;
}

const webhookLogLevels = ['debug', 'info', 'warn', 'error'] as const;

/** Parses `webhook` flags (pflag semantics, as every command); throws a `FlagError` listing every problem. */
export function parseWebhookFlags(argv: readonly string[]): WebhookCommandOptions {
  const parsed = parseFlags(webhookFlags, argv, parseGoDuration);
  const problems: FlagProblem[] = [...parsed.problems, ...positionalProblems(parsed.positionals)];
  const v = <T extends string | number | boolean>(name: string) => parsed.values.get(name) as T | undefined;
  const help = v<boolean>('help') === true;
  const problem = (flag: string, cause: string, fix: string) => problems.push({ flag: `--${flag}`, cause, fix });
  const int = (name: string, fallback: number, min: number, max: number) => {
    const n = v<number>(name) ?? fallback;
    if (n < min || n > max) problem(name, `must be an integer in [${min}, ${max}], got ${n}`, `--${name}=${fallback}`);
    return n;
  };
  const mappingPollInterval = v<number>('mapping-poll-interval') ?? 10_000;
  if (mappingPollInterval < 0) problem('mapping-poll-interval', 'must not be negative', '--mapping-poll-interval=10s');
  const str = (name: string) => v<string>(name) || undefined;
  const tokenAuthFile = str('token-auth-file');
  const mappingFile = str('mapping-file');
  const authorizationPolicyFile = str('authorization-policy-file');
  const clientCaFile = str('client-ca-file');
  const opts: WebhookCommandOptions = {
    ...(tokenAuthFile && { tokenAuthFile }),
    ...(mappingFile && { mappingFile }),
    mappingPollInterval,
    ...(authorizationPolicyFile && { authorizationPolicyFile }),
    tlsCertFile: v<string>('tls-cert-file') ?? '',
    tlsPrivateKeyFile: v<string>('tls-private-key-file') ?? '',
    ...(clientCaFile && { clientCaFile }),
    bindAddress: v<string>('bind-address') ?? '0.0.0.0',
    securePort: int('secure-port', 8443, 0, 65535),
    maxBodyBytes: int('max-body-bytes', 1024 * 1024, 1, 64 * 1024 * 1024),
    logLevel: v<string>('log-level') ?? 'info',
    help,
  };
  if (!help) {
    for (const flag of ['tls-cert-file', 'tls-private-key-file'] as const)
      if (!v<string>(flag)) problem(flag, 'required', `--${flag}=<PEM file> (kube-delegated-auth certs writes a pair)`);
    if (!opts.tokenAuthFile && !opts.authorizationPolicyFile) {
      problem(
        'token-auth-file',
        'nothing to serve: neither --token-auth-file nor --authorization-policy-file is set',
        'give --token-auth-file and/or --authorization-policy-file',
      );
    }
    if (opts.mappingFile && !opts.tokenAuthFile)
      problem('mapping-file', 'needs --token-auth-file (it maps the identities of tokens)', 'add --token-auth-file');
    if (!(webhookLogLevels as readonly string[]).includes(opts.logLevel))
      problem('log-level', `unknown level ${JSON.stringify(opts.logLevel)}`, `one of ${webhookLogLevels.join(', ')}`);
    if (isIP(opts.bindAddress) === 0)
      problem(
        'bind-address',
        `must be an IP address, got ${JSON.stringify(opts.bindAddress)}`,
        '--bind-address=0.0.0.0',
      );
  }
  throwFlagProblems(problems, help);
  return opts;
}

/** A started `webhook` command. */
export interface RunningWebhook {
  readonly address: AddressInfo;
  readonly server: WebhookServer;
  readonly mapping?: IdentityMapping;
  /** The serving pair of --tls-cert-file/--tls-private-key-file, watched: new connections get the current pair. */
  readonly servingCert: FileCertKeyPairProvider;
  /** Stops serving and watching. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the `webhook` command from flags; for embedding and tests (runWebhookCommand waits for a signal). A file
 * or port that cannot be used rejects with a `StartupError` naming the flag, the cause and the fix.
 */
export async function startWebhookCommand(
  opts: WebhookCommandOptions,
  deps: { readonly logger?: Logger } = {},
): Promise<RunningWebhook> {
  // createPinoLogger, not a raw pino: this process handles raw bearer tokens all day, so it gets the library's
  // redaction (authorization, token, spec.token, …) and the same line shape as `serve` (review D11).
  const logger: Logger =
    deps.logger ??
    createPinoLogger({ level: opts.logLevel as LogLevel, format: 'auto', base: { component: 'webhook' } });
  // Checked first for the one-line startup error naming the flag; then served from a watched provider, as `serve`
  // does, so a rotated pair reaches new connections and a bad rewrite keeps the last good pair.
  await loadServingPair(
    flagFile('--tls-cert-file', opts.tlsCertFile),
    flagFile('--tls-private-key-file', opts.tlsPrivateKeyFile),
  );
  const clientCa = opts.clientCaFile ? await loadCaBundle(flagFile('--client-ca-file', opts.clientCaFile)) : undefined;
  const step = <T>(flag: string, file: string, run: () => Promise<T>) => startupStep(`${flag} ${file}`, run, { file });
  const servingCert = fileCertKeyPair(opts.tlsCertFile, opts.tlsPrivateKeyFile, { logger });
  await step('--tls-cert-file', opts.tlsCertFile, () => servingCert.runOnce()).catch(async (err: unknown) => {
    await servingCert.close();
    throw err;
  });
  servingCert.start();
  try {
    return await serveWebhook(opts, logger, servingCert, clientCa, step);
  } catch (err) {
    await servingCert.close();
    throw err;
  }
}

/** The rest of startWebhookCommand, once the serving pair is loaded and watched (closed by the caller on failure). */
async function serveWebhook(
  opts: WebhookCommandOptions,
  logger: Logger,
  servingCert: FileCertKeyPairProvider,
  clientCa: string | undefined,
  step: <T>(flag: string, file: string, run: () => Promise<T>) => Promise<T>,
): Promise<RunningWebhook> {
  let policy;
  if (opts.authorizationPolicyFile) {
    const file = opts.authorizationPolicyFile;
    policy = await step('--authorization-policy-file', file, () => loadStaticPolicy(file));
  }
  let mapping: IdentityMapping | undefined;
  let tokenReview;
  if (opts.tokenAuthFile) {
    const tokenFile = opts.tokenAuthFile;
    let verify = staticTokenVerifier(await step('--token-auth-file', tokenFile, () => loadTokenFile(tokenFile)));
    if (opts.mappingFile) {
      const m = new IdentityMapping({
        source: fileMappingSource(opts.mappingFile),
        pollIntervalMs: opts.mappingPollInterval,
        logger,
      });
      await step('--mapping-file', opts.mappingFile, () => m.start()).catch(async (err: unknown) => {
        await m.close();
        throw err;
      });
      mapping = m;
      verify = withIdentityMapping(verify, mapping);
    }
    tokenReview = tokenReviewWebhook({ verify, maxBodyBytes: opts.maxBodyBytes, logger });
  }
  let subjectAccessReview;
  if (policy) {
    subjectAccessReview = subjectAccessReviewWebhook({
      authorize: staticPolicyAuthorizer(policy),
      maxBodyBytes: opts.maxBodyBytes,
      logger,
    });
  }
  const server = new WebhookServer({
    servingCert,
    ...(clientCa ? { clientCa } : {}),
    ...(tokenReview ? { tokenReview } : {}),
    ...(subjectAccessReview ? { subjectAccessReview } : {}),
    ...(mapping ? { mapping } : {}),
    logger,
  });
  let address: AddressInfo;
  try {
    address = await startupStep(`--bind-address ${opts.bindAddress} --secure-port ${opts.securePort}`, () =>
      server.listen(opts.securePort, opts.bindAddress),
    );
  } catch (err) {
    await mapping?.close();
    throw err;
  }
  logger.info(
    { address: address.address, port: address.port, authenticate: !!tokenReview, authorize: !!subjectAccessReview },
    'webhook server listening',
  );
  let closing: Promise<void> | undefined;
  return {
    address,
    server,
    ...(mapping ? { mapping } : {}),
    servingCert,
    close: () =>
      (closing ??= Promise.all([server.close(), mapping?.close()])
        .then(() => servingCert.close())
        .then(() => undefined)),
  };
}

/** `kube-delegated-auth webhook …`: runs until SIGINT/SIGTERM, then shuts down gracefully. */
export async function runWebhookCommand(argv: string[]): Promise<void> {
  const opts = parseWebhookFlags(argv);
  if (opts.help) {
    process.stdout.write(webhookUsage);
    return;
  }
  const running = await startWebhookCommand(opts);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await running.close();
}
