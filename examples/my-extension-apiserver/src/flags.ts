// The server's flags, named as Go's k8s.io/apiserver names them (so a Go operator's muscle memory works), parsed with
// node:util. Durations take Go's units (`500ms`, `10s`, `1m30s`).
import { parseArgs } from 'node:util';

export interface Flags {
  /** --secure-port (Go default 443; we default to 8443 to run without privileges). 0 picks a free port. */
  readonly securePort: number;
  /** --bind-address. */
  readonly bindAddress: string;
  readonly tlsCertFile: string;
  readonly tlsPrivateKeyFile: string;
  /** --kubeconfig; unset in a pod (the service account is used). */
  readonly kubeconfig: string | undefined;
  /** --shutdown-delay-duration in ms. */
  readonly shutdownDelayDuration: number;
  /** --shutdown-watch-termination-grace-period in ms. */
  readonly shutdownWatchTerminationGracePeriod: number;
}

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration for the units a shutdown delay needs; throws naming the flag. */
export function parseDuration(flag: string, text: string): number {
  if (text === '0') return 0;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new Error(`--${flag}: invalid duration ${JSON.stringify(text)} (use e.g. 500ms, 10s, 1m30s)`);
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * (units[p[2]!] ?? 0), 0);
}

export function parseFlags(argv: readonly string[]): Flags {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      'secure-port': { type: 'string', default: '8443' },
      'bind-address': { type: 'string', default: '0.0.0.0' },
      'tls-cert-file': { type: 'string', default: '/var/run/serving-cert/tls.crt' },
      'tls-private-key-file': { type: 'string', default: '/var/run/serving-cert/tls.key' },
      kubeconfig: { type: 'string' },
      'shutdown-delay-duration': { type: 'string', default: '0' },
      'shutdown-watch-termination-grace-period': { type: 'string', default: '0' },
    },
  });
  const port = Number(values['secure-port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--secure-port: must be an integer between 0 and 65535, got ${values['secure-port']}`);
  }
  return {
    securePort: port,
    bindAddress: values['bind-address'],
    tlsCertFile: values['tls-cert-file'],
    tlsPrivateKeyFile: values['tls-private-key-file'],
    kubeconfig: values.kubeconfig,
    shutdownDelayDuration: parseDuration('shutdown-delay-duration', values['shutdown-delay-duration']),
    shutdownWatchTerminationGracePeriod: parseDuration(
      'shutdown-watch-termination-grace-period',
      values['shutdown-watch-termination-grace-period'],
    ),
  };
}
