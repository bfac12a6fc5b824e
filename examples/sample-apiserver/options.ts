// The options of the sample extension apiserver, owned by the sample: the `serve` command of the CLI (cli/flags.ts)
// parses its Go-named flags into them.

/** Options of the sample server (the `serve` command): the camelCase of each Go flag; durations in ms. */
export interface ServeOptions {
  /** `--secure-port`; 0 = ephemeral. Default 8443. */
  readonly securePort: number;
  /** `--bind-address`. Default `0.0.0.0`. */
  readonly bindAddress: string;
  /** `--tls-cert-file`; without it, standalone mode serves the dev PKI and cluster mode a self-signed certificate. */
  readonly tlsCertFile?: string;
  readonly tlsPrivateKeyFile?: string;
  /** `--client-ca-file`; standalone default `<certDir>/client-ca.crt`, cluster default the ConfigMap. */
  readonly clientCaFile?: string;
  /** `--requestheader-client-ca-file`; standalone default `<certDir>/front-proxy-ca.crt`, cluster default the ConfigMap. */
  readonly requestheaderClientCaFile?: string;
  /** `--requestheader-allowed-names`. Default `[]` (any CN). */
  readonly requestheaderAllowedNames: readonly string[];
  /** Default `['x-remote-user']`. */
  readonly requestheaderUsernameHeaders: readonly string[];
  /** Default `['x-remote-group']`. */
  readonly requestheaderGroupHeaders: readonly string[];
  /** Default `['x-remote-extra-']`. */
  readonly requestheaderExtraHeadersPrefix: readonly string[];
  /** Default `[]` (Go does not default the UID header). */
  readonly requestheaderUidHeaders: readonly string[];
  /** `--kubeconfig`: used for both authentication and authorization unless the specific flags are given. */
  readonly kubeconfig?: string;
  readonly authenticationKubeconfig?: string;
  readonly authorizationKubeconfig?: string;
  /** Default false. */
  readonly authenticationSkipLookup: boolean;
  /** Default false. */
  readonly authenticationTolerateLookupFailure: boolean;
  /** Default `['/healthz', '/readyz', '/livez']` (Go 1.21+). */
  readonly authorizationAlwaysAllowPaths: readonly string[];
  /** ms; default 10_000. */
  readonly authorizationWebhookCacheAuthorizedTtl: number;
  /** ms; default 10_000. */
  readonly authorizationWebhookCacheUnauthorizedTtl: number;
  /** ms; default 10_000. */
  readonly authenticationTokenWebhookCacheTtl: number;
  /** `--anonymous-auth`. Default true (Go's delegating options always enable it; false is honoured here). */
  readonly anonymousAuth: boolean;
  /** `--policy-file`: static policy for standalone mode. Default the packaged `fixtures/policy.yaml`. */
  readonly policyFile: string;
  /** `--cert-dir`: where standalone mode writes and reads the dev PKI. Default `.kda/certs` (relative to cwd). */
  readonly certDir: string;
  /** `--enable-metrics`: serve Prometheus metrics on `/metrics` (authorized like any non-resource path). Default false. */
  readonly enableMetrics?: boolean;
  /** `--log-level`: `trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`. Default `info` (or `$LOG_LEVEL`). */
  readonly logLevel?: string;
}

/** The parsed `serve` command line. */
export interface ParsedServe {
  readonly options: ServeOptions;
  /** Non-fatal configuration warnings (Go logs these at startup). */
  readonly warnings: readonly string[];
  readonly help: boolean;
}
