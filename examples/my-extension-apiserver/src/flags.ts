// The server's flags, named as Go's k8s.io/apiserver names them (so a Go operator's muscle memory works), parsed with
// node:util: the serving and shutdown flags of this server, plus Go's delegated authn/authz flags
// (--kubeconfig, --authentication-kubeconfig, --requestheader-*, --authorization-always-allow-paths, ...) from
// kube-delegated-auth/apiserver, which turns them into delegatedAuth() options. Durations take Go's syntax (`500ms`,
// `10s`, `1m30s`).
import { parseArgs } from 'node:util';
import { parseGoDuration, type DelegatedAuthOptions } from 'kube-delegated-auth';
import {
  delegatedAuthOptionsFromFlags,
  delegatedAuthParseArgsOptions,
  formatDelegatedAuthFlags,
} from 'kube-delegated-auth/apiserver';

export interface Flags {
  /** --secure-port (Go default 443; we default to 8443 to run without privileges). 0 picks a free port. */
  readonly securePort: number;
  /** --bind-address. */
  readonly bindAddress: string;
  readonly tlsCertFile: string;
  readonly tlsPrivateKeyFile: string;
  /** --shutdown-delay-duration in ms. */
  readonly shutdownDelayDuration: number;
  /** --shutdown-watch-termination-grace-period in ms. */
  readonly shutdownWatchTerminationGracePeriod: number;
  /** -v, --v: klog's verbosity; 3 and up logs every request, as Go's httplog. */
  readonly verbosity: number;
  /** --help, -h. */
  readonly help: boolean;
  /** The delegated authn/authz flags given, as delegatedAuth() options (unset flags: Go's defaults apply). */
  readonly auth: DelegatedAuthOptions;
}

export const usage = `Usage: my-extension-apiserver [flags]

Flags:
      --secure-port int                                  The port on which to serve HTTPS (default 8443)
      --bind-address string                              The IP address on which to listen (default "0.0.0.0")
      --tls-cert-file string                             Serving certificate, reloaded when it changes (default "/var/run/serving-cert/tls.crt")
      --tls-private-key-file string                      Its private key (default "/var/run/serving-cert/tls.key")
      --shutdown-delay-duration duration                 Time to keep serving with /readyz failing after SIGTERM (default 0s)
      --shutdown-watch-termination-grace-period duration Time watches may continue once draining starts (default 0s)
  -v, --v int                                            Log level; 3 and up logs every request
  -h, --help                                             Print this help
${formatDelegatedAuthFlags()}
`;

/** Go's duration syntax; the error names the flag, as pflag does. */
function duration(flag: string, text: string): number {
  try {
    return parseGoDuration(text);
  } catch (err) {
    throw new Error(`invalid argument ${JSON.stringify(text)} for "--${flag}" flag: ${(err as Error).message}`);
  }
}

function integer(flag: string, text: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > max) {
    throw new Error(
      `invalid argument ${JSON.stringify(text)} for "--${flag}" flag: must be an integer from 0 to ${max}`,
    );
  }
  return n;
}

/** Parses argv; throws one line naming the flag (an unknown flag, a bad value) for the caller to print. */
export function parseFlags(argv: readonly string[]): Flags {
  const values: Record<string, string | boolean | (string | boolean)[] | undefined> = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      ...delegatedAuthParseArgsOptions(),
      'secure-port': { type: 'string', default: '8443' },
      'bind-address': { type: 'string', default: '0.0.0.0' },
      'tls-cert-file': { type: 'string', default: '/var/run/serving-cert/tls.crt' },
      'tls-private-key-file': { type: 'string', default: '/var/run/serving-cert/tls.key' },
      'shutdown-delay-duration': { type: 'string', default: '0' },
      'shutdown-watch-termination-grace-period': { type: 'string', default: '0' },
      v: { type: 'string', short: 'v', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
  const str = (name: string) => String(values[name]);
  const shutdownDelayDuration = duration('shutdown-delay-duration', str('shutdown-delay-duration'));
  const grace = duration('shutdown-watch-termination-grace-period', str('shutdown-watch-termination-grace-period'));
  for (const [flag, ms] of [
    ['shutdown-delay-duration', shutdownDelayDuration],
    ['shutdown-watch-termination-grace-period', grace],
  ] as const) {
    if (ms < 0)
      throw new Error(`invalid argument ${JSON.stringify(str(flag))} for "--${flag}" flag: must not be negative`);
  }
  return {
    securePort: integer('secure-port', str('secure-port'), 65535),
    bindAddress: str('bind-address'),
    tlsCertFile: str('tls-cert-file'),
    tlsPrivateKeyFile: str('tls-private-key-file'),
    shutdownDelayDuration,
    shutdownWatchTerminationGracePeriod: grace,
    verbosity: integer('v', str('v'), 10),
    help: values.help === true,
    // Throws one InvalidOptionError naming every bad flag, in pflag's words (--authorization-webhook-cache-*-ttl 10x).
    auth: delegatedAuthOptionsFromFlags(values),
  };
}
