import { isIP } from 'node:net';
import { join } from 'node:path';
import { delegatingDefaults, parseGoDuration } from 'kube-delegated-auth';
import type { ParsedServe, ServeOptions } from '../examples/sample-apiserver/options.js';
import { delegatedAuthFlags, type DelegatedAuthFlag } from 'kube-delegated-auth/apiserver';
import { logLevels } from 'kube-delegated-auth/pino';
import { packageRoot } from './package-root.js';
import {
  formatFlagUsages,
  parseFlags,
  positionalProblems,
  throwFlagProblems,
  type FlagKind,
  type FlagProblem,
  type FlagSpec,
  type FlagValue,
} from './flag-set.js';

export type { ParsedServe, ServeOptions };

/** The packaged policy, `fixtures/policy.yaml` at the package root. */
export const defaultPolicyFile = join(packageRoot(), 'fixtures/policy.yaml');

const d = delegatingDefaults;

/**
 * The `serve` defaults: the delegating options' Go defaults from lib/defaults.ts (read, not copied: D8 of the
 * architecture review), plus the sample program's own (port, bind address, policy and certificate directory).
 */
export const serveDefaults: ServeOptions = Object.freeze({
  securePort: 8443,
  bindAddress: '0.0.0.0',
  requestheaderAllowedNames: d.requestheaderAllowedNames,
  requestheaderUsernameHeaders: d.requestheaderUsernameHeaders,
  requestheaderGroupHeaders: d.requestheaderGroupHeaders,
  requestheaderExtraHeadersPrefix: d.requestheaderExtraHeadersPrefix,
  requestheaderUidHeaders: d.requestheaderUidHeaders,
  authenticationSkipLookup: false,
  authenticationTolerateLookupFailure: false,
  authorizationAlwaysAllowPaths: d.authorizationAlwaysAllowPaths,
  authorizationWebhookCacheAuthorizedTtl: d.authorizationWebhookCacheAuthorizedTtl,
  authorizationWebhookCacheUnauthorizedTtl: d.authorizationWebhookCacheUnauthorizedTtl,
  authenticationTokenWebhookCacheTtl: d.authenticationTokenWebhookCacheTtl,
  anonymousAuth: true,
  policyFile: defaultPolicyFile,
  certDir: '.kda/certs',
  enableMetrics: false,
});

/** The library's flag types in this parser's words. */
const kindOf: Readonly<Record<DelegatedAuthFlag['type'], FlagKind>> = {
  string: 'string',
  bool: 'boolean',
  stringSlice: 'stringSlice',
  duration: 'duration',
};

/**
 * The library's flags `serve` does not offer: `--authorization-always-allow-groups` is kube-delegated-auth's own
 * (Go hard-codes system:masters), and the sample apiserver keeps Go's fixed group.
 */
const notServed: ReadonlySet<string> = new Set(['authorization-always-allow-groups']);

/** The `ServeOptions` key of a library flag: its `delegatedAuth()` option, but `--anonymous-auth` is `anonymousAuth`. */
const serveOption = (flag: DelegatedAuthFlag): keyof ServeOptions =>
  flag.option === 'anonymous' ? 'anonymousAuth' : (flag.option as keyof ServeOptions);

/**
 * Go's delegated authn/authz flags as `serve` parses them: the library's table (`kube-delegated-auth/apiserver`),
 * so name, type, default and Go's help text are one definition for the CLI and a user's own binary.
 */
export const serveDelegatedFlags: readonly (FlagSpec & { readonly option: keyof ServeOptions })[] = delegatedAuthFlags
  .filter((f) => !notServed.has(f.name))
  .map((f) => ({
    name: f.name,
    option: serveOption(f),
    kind: kindOf[f.type],
    help: f.help,
    ...(f.defaultText !== undefined && { defaultText: f.defaultText }),
  }));

/** Flag name → option key, in --help order: serving, Go's delegated flags, then the sample program's own. */
const serveFlagTable: readonly (FlagSpec & { readonly option: keyof ServeOptions })[] = [
  {
    name: 'secure-port',
    option: 'securePort',
    kind: 'int',
    defaultText: '8443',
    help: 'The port on which to serve HTTPS; 0 = a free port the kernel picks (Go: 0 = do not serve HTTPS).',
  },
  {
    name: 'bind-address',
    option: 'bindAddress',
    kind: 'string',
    defaultText: '0.0.0.0',
    help: 'The IP address on which to listen.',
  },
  {
    name: 'tls-cert-file',
    option: 'tlsCertFile',
    kind: 'string',
    help: 'Serving certificate (PEM, with intermediates); reloaded when it changes.',
  },
  {
    name: 'tls-private-key-file',
    option: 'tlsPrivateKeyFile',
    kind: 'string',
    help: 'Private key of --tls-cert-file.',
  },
  ...serveDelegatedFlags,
  {
    name: 'policy-file',
    option: 'policyFile',
    kind: 'string',
    defaultText: 'fixtures/policy.yaml',
    help: 'Static authorization policy used in standalone mode.',
  },
  {
    name: 'cert-dir',
    option: 'certDir',
    kind: 'string',
    defaultText: '.kda/certs',
    help: 'Directory of the development PKI created on first start in standalone mode.',
  },
  {
    name: 'enable-metrics',
    option: 'enableMetrics',
    kind: 'boolean',
    help: 'Serve Prometheus metrics on /metrics (authorized like any non-resource path: get /metrics).',
  },
  {
    name: 'log-level',
    option: 'logLevel',
    kind: 'string',
    defaultText: 'info',
    help: 'Lowest level logged on stderr (JSON lines, or text on a terminal): trace, debug, info, warn, error, fatal, silent.',
  },
];

/** The --help default of a serve flag (`10s`), for fixes that name it. */
const defaultTextOf = (name: string) => serveFlagTable.find((f) => f.name === name)?.defaultText ?? '';

const helpFlag: FlagSpec = { name: 'help', short: 'h', kind: 'boolean', help: 'Show this help.' };

/** The `serve` flags, for --help and documentation. */
export const serveFlags: readonly FlagSpec[] = [...serveFlagTable, helpFlag];

/**
 * Parses and validates `serve` flags. Throws one {@link FlagError} listing every problem (unknown flags, missing
 * arguments, bad numbers or durations, and the option checks of Go's `Validate()`), each naming its flag and a fix.
 */
export function parseServeFlags(argv: readonly string[]): ParsedServe {
  const parsed = parseFlags(serveFlags, argv, parseGoDuration);
  const problems: FlagProblem[] = [...parsed.problems, ...positionalProblems(parsed.positionals)];
  const given: Record<string, FlagValue> = {};
  for (const spec of serveFlagTable) {
    const v = parsed.values.get(spec.name);
    if (v !== undefined) given[spec.option] = v;
  }
  const options = { ...serveDefaults, ...given } as ServeOptions;
  const help = parsed.values.get('help') === true;
  const warnings: string[] = [];
  const problem = (flag: string, cause: string, fix: string) => problems.push({ flag: `--${flag}`, cause, fix });

  if (!Number.isInteger(options.securePort) || options.securePort < 0 || options.securePort > 65535) {
    problem(
      'secure-port',
      `must be between 0 and 65535, got ${options.securePort}`,
      '--secure-port=8443 (0 = a free port the kernel picks)',
    );
  }
  if (isIP(options.bindAddress) === 0) {
    problem(
      'bind-address',
      `must be an IP address, got ${JSON.stringify(options.bindAddress)}`,
      '--bind-address=0.0.0.0 (all IPv4 addresses), 127.0.0.1 or :: (all addresses)',
    );
  }
  if (Boolean(options.tlsCertFile) !== Boolean(options.tlsPrivateKeyFile)) {
    const [set, missing] = options.tlsCertFile
      ? ['tls-cert-file', 'tls-private-key-file']
      : ['tls-private-key-file', 'tls-cert-file'];
    problem(missing, `must be set together with --${set}`, `give both, or neither for a development certificate`);
  }
  for (const [option, flag] of [
    ['requestheaderAllowedNames', 'requestheader-allowed-names'],
    ['requestheaderUsernameHeaders', 'requestheader-username-headers'],
    ['requestheaderGroupHeaders', 'requestheader-group-headers'],
    ['requestheaderExtraHeadersPrefix', 'requestheader-extra-headers-prefix'],
    ['requestheaderUidHeaders', 'requestheader-uid-headers'],
    ['authorizationAlwaysAllowPaths', 'authorization-always-allow-paths'],
  ] as const) {
    const list = options[option];
    if (list.some((v) => v.trim() === ''))
      problem(flag, 'must not contain an empty string', `drop the empty entry (a doubled or trailing comma)`);
  }
  for (const p of options.authorizationAlwaysAllowPaths) {
    const star = p.indexOf('*');
    if (star !== -1 && star !== p.length - 1) {
      problem(
        'authorization-always-allow-paths',
        `only a trailing * is allowed, got ${JSON.stringify(p)}`,
        `a prefix such as ${JSON.stringify(p.slice(0, star + 1))}`,
      );
    }
  }
  for (const [option, flag] of [
    ['authorizationWebhookCacheAuthorizedTtl', 'authorization-webhook-cache-authorized-ttl'],
    ['authorizationWebhookCacheUnauthorizedTtl', 'authorization-webhook-cache-unauthorized-ttl'],
    ['authenticationTokenWebhookCacheTtl', 'authentication-token-webhook-cache-ttl'],
  ] as const) {
    if (options[option] < 0) problem(flag, 'must not be negative', `--${flag}=${defaultTextOf(flag)} (0 = no caching)`);
  }
  const has = (list: readonly string[], h: string) => list.some((v) => v.toLowerCase() === h);
  if (options.requestheaderUidHeaders.length > 0 && !has(options.requestheaderUidHeaders, 'x-remote-uid')) {
    problem(
      'requestheader-uid-headers',
      'is set without specifying the standard X-Remote-Uid header - API aggregation will not work',
      'add X-Remote-Uid to the list',
    );
  }
  if (!has(options.requestheaderUsernameHeaders, 'x-remote-user')) {
    warnings.push(
      '--requestheader-username-headers is set without specifying the standard X-Remote-User header - API aggregation will not work',
    );
  }
  if (!has(options.requestheaderGroupHeaders, 'x-remote-group')) {
    warnings.push(
      '--requestheader-group-headers is set without specifying the standard X-Remote-Group header - API aggregation will not work',
    );
  }
  if (!has(options.requestheaderExtraHeadersPrefix, 'x-remote-extra-')) {
    warnings.push(
      '--requestheader-extra-headers-prefix is set without specifying the standard X-Remote-Extra- header prefix - API aggregation will not work',
    );
  }
  if (options.logLevel !== undefined && !(logLevels as readonly string[]).includes(options.logLevel)) {
    problem('log-level', `unknown level ${JSON.stringify(options.logLevel)}`, `one of ${logLevels.join(', ')}`);
  }
  throwFlagProblems(problems, help);
  return { options, warnings, help };
}

export const serveUsage = `Usage: kube-delegated-auth serve [flags]

Runs the sample extension apiserver (API group sample.kube-delegated-auth.io/v1alpha1).
Standalone mode (no kubeconfig, not in a cluster): creates a development PKI in --cert-dir and authorizes with
--policy-file. Cluster mode (--kubeconfig, --authentication-kubeconfig, $KUBECONFIG or in-cluster): trust from the
kube-system/extension-apiserver-authentication ConfigMap, TokenReview and SubjectAccessReview.

Flags:
${formatFlagUsages(serveFlags)}
`;

/** Options of the `certs` command. */
export interface CertsOptions {
  /** `--dir`: output directory. Default `certs`. */
  readonly dir: string;
  /** `--overwrite`: replace an existing PKI. Default false. */
  readonly overwrite: boolean;
  /** `--dns-name`: extra DNS SANs of the serving certificate. */
  readonly dnsNames: readonly string[];
  /** `--ip-address`: extra IP SANs of the serving certificate. */
  readonly ipAddresses: readonly string[];
  readonly help: boolean;
}

export const certsFlags: readonly FlagSpec[] = [
  { name: 'dir', kind: 'string', defaultText: 'certs', help: 'Directory to write the development PKI into.' },
  { name: 'overwrite', kind: 'boolean', help: 'Replace an existing PKI in --dir.' },
  { name: 'dns-name', kind: 'stringSlice', help: 'Extra DNS name for the serving certificate.' },
  { name: 'ip-address', kind: 'stringSlice', help: 'Extra IP address for the serving certificate.' },
  helpFlag,
];

export function parseCertsFlags(argv: readonly string[]): CertsOptions {
  const parsed = parseFlags(certsFlags, argv, parseGoDuration);
  const problems: FlagProblem[] = [...parsed.problems, ...positionalProblems(parsed.positionals)];
  const v = parsed.values;
  const opts: CertsOptions = {
    dir: (v.get('dir') as string | undefined) ?? 'certs',
    overwrite: (v.get('overwrite') as boolean | undefined) ?? false,
    dnsNames: (v.get('dns-name') as readonly string[] | undefined) ?? [],
    ipAddresses: (v.get('ip-address') as readonly string[] | undefined) ?? [],
    help: v.get('help') === true,
  };
  if (opts.dir === '') problems.push({ flag: '--dir', cause: 'must not be empty', fix: '--dir=certs' });
  throwFlagProblems(problems, opts.help);
  return opts;
}

export const certsUsage = `Usage: kube-delegated-auth certs [--dir certs]

Writes a development PKI: front-proxy CA and front-proxy-client certificate, client CA with users admin
(system:masters), alice (developers) and bob, and a serving CA with a localhost serving certificate.

Flags:
${formatFlagUsages(certsFlags)}
`;
