import { isIP, type AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { flagFile, loadCaBundle, loadServingPair, startupStep } from 'kube-delegated-auth/startup';
import { InvalidOptionError, type Logger, parseGoDuration } from 'kube-delegated-auth';
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

export const webhookUsage = `Usage: kube-delegated-auth webhook [flags]

Serves kube-apiserver's authentication and authorization webhooks over HTTPS:
  POST /authenticate  TokenReview   (--authentication-token-webhook-config-file)
  POST /authorize     SubjectAccessReview (--authorization-webhook-config-file)
  GET  /healthz, /readyz

Flags:
      --token-auth-file string              CSV token file as kube-apiserver's: token,user,uid,"group1,group2"
      --mapping-file string                 identity mapping (YAML/JSON), watched; bad edits keep the last good mapping
      --mapping-poll-interval duration      re-read interval for the mapping file (default 10s)
      --authorization-policy-file string    static authorization policy (YAML); /authorize is served only with it
      --tls-cert-file string                serving certificate (PEM), required
      --tls-private-key-file string         serving private key (PEM), required
      --client-ca-file string               require client certificates signed by this CA bundle
      --bind-address string                 default 0.0.0.0
      --secure-port int                     default 8443 (0 = any free port)
      --max-body-bytes int                  largest accepted review body (default 1048576)
      --log-level string                    debug|info|warn|error (default info)
  -h, --help
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

function parseFlagsStrict(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,

    options: {
      'token-auth-file': { type: 'string' },
      'mapping-file': { type: 'string' },
      'mapping-poll-interval': { type: 'string', default: '10s' },
      'authorization-policy-file': { type: 'string' },
      'tls-cert-file': { type: 'string' },
      'tls-private-key-file': { type: 'string' },
      'client-ca-file': { type: 'string' },
      'bind-address': { type: 'string', default: '0.0.0.0' },
      'secure-port': { type: 'string', default: '8443' },
      'max-body-bytes': { type: 'string', default: String(1024 * 1024) },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

/** Parses `webhook` flags (`--flag value` or `--flag=value`); throws `InvalidOptionError` listing every problem. */
export function parseWebhookFlags(argv: readonly string[]): WebhookCommandOptions {
  let parsed;
  try {
    parsed = parseFlagsStrict(argv);
  } catch (err) {
    // node:util reports unknown flags and missing values as TypeError; keep one error type for every flag problem.
    throw new InvalidOptionError([(err as Error).message]);
  }
  const { values, positionals } = parsed;

  const problems: string[] = [];
  if (positionals.length > 0) problems.push(`unexpected arguments: ${positionals.join(' ')}`);
  const help = values.help === true;
  const int = (name: string, text: string, min: number, max: number) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      problems.push(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(text)}`);
      return min;
    }
    return n;
  };
  let mappingPollInterval = 10_000;
  try {
    mappingPollInterval = parseGoDuration(values['mapping-poll-interval']!);
    if (mappingPollInterval < 0) problems.push('--mapping-poll-interval must not be negative');
  } catch (err) {
    problems.push(`--mapping-poll-interval: ${(err as Error).message}`);
  }
  const opts: WebhookCommandOptions = {
    ...(values['token-auth-file'] ? { tokenAuthFile: values['token-auth-file'] } : {}),
    ...(values['mapping-file'] ? { mappingFile: values['mapping-file'] } : {}),
    mappingPollInterval,
    ...(values['authorization-policy-file'] ? { authorizationPolicyFile: values['authorization-policy-file'] } : {}),
    tlsCertFile: values['tls-cert-file'] ?? '',
    tlsPrivateKeyFile: values['tls-private-key-file'] ?? '',
    ...(values['client-ca-file'] ? { clientCaFile: values['client-ca-file'] } : {}),
    bindAddress: values['bind-address']!,
    securePort: int('secure-port', values['secure-port']!, 0, 65535),
    maxBodyBytes: int('max-body-bytes', values['max-body-bytes']!, 1, 64 * 1024 * 1024),
    logLevel: values['log-level']!,
    help,
  };
  if (!help) {
    if (!opts.tlsCertFile || !opts.tlsPrivateKeyFile)
      problems.push('--tls-cert-file and --tls-private-key-file are required');
    if (!opts.tokenAuthFile && !opts.authorizationPolicyFile) {
      problems.push('nothing to serve: give --token-auth-file and/or --authorization-policy-file');
    }
    if (opts.mappingFile && !opts.tokenAuthFile) problems.push('--mapping-file needs --token-auth-file');
    if (!['debug', 'info', 'warn', 'error'].includes(opts.logLevel))
      problems.push(`--log-level: unknown level ${JSON.stringify(opts.logLevel)}`);
    if (isIP(opts.bindAddress) === 0)
      problems.push(`--bind-address must be an IP address, got ${JSON.stringify(opts.bindAddress)}`);
  }
  if (problems.length) throw new InvalidOptionError(problems);
  return opts;
}

/** A started `webhook` command. */
export interface RunningWebhook {
  readonly address: AddressInfo;
  readonly server: WebhookServer;
  readonly mapping?: IdentityMapping;
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
  const logger: Logger = deps.logger ?? pino({ level: opts.logLevel, base: { component: 'webhook' } });
  const { cert, key } = await loadServingPair(
    flagFile('--tls-cert-file', opts.tlsCertFile),
    flagFile('--tls-private-key-file', opts.tlsPrivateKeyFile),
  );
  const clientCa = opts.clientCaFile ? await loadCaBundle(flagFile('--client-ca-file', opts.clientCaFile)) : undefined;
  const step = <T>(flag: string, file: string, run: () => Promise<T>) => startupStep(`${flag} ${file}`, run, { file });
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
    cert,
    key,
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
    close: () => (closing ??= Promise.all([server.close(), mapping?.close()]).then(() => undefined)),
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
