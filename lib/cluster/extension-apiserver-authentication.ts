// Go's ConfigMapCAController + RequestHeaderAuthRequestController over one ConfigMap: what is applied, the
// last-known-good rules and status(). The list/watch loop is lib/cluster/watch-one.ts, the providers are
// lib/trust/mutable-provider.ts. Longer than ~350 lines because the options carry the Go flag docs (≈50 lines) and
// the CA and header-config apply rules each need their own change/last-known-good bookkeeping.
import { trustDefaults } from '../defaults.js';
import { KdaError } from '../errors.js';
import { noopLogger, type Logger } from '../log.js';
import type {
  CABundle,
  CABundleProvider,
  Listener,
  RequestHeaderConfig,
  RequestHeaderConfigProvider,
  TrustSource,
  TrustStatus,
} from '../trust/interfaces.js';
import { MutableProvider, notifyAll } from '../trust/mutable-provider.js';
import { parsePemBundle } from '../trust/pem.js';
import { fileCABundle, staticRequestHeaderConfig, type FileCABundleProvider } from '../trust/static.js';
import { systemClock, type Clock } from '../util/clock.js';
import { configMapKeys, deserializeStrings } from './configmap-parsing.js';
import { rolebindingFixCommand } from './kubeconfig.js';
import { KubeApiError, type RestClient } from './rest-client.js';
import { WatchOne } from './watch-one.js';

export interface ExtensionApiserverAuthenticationOptions {
  /** Client for the cluster (`--authentication-kubeconfig`); undefined = no lookup, with Go's warnings. */
  readonly client?: RestClient;
  /** Namespace of the ConfigMap. Default `kube-system`. */
  readonly namespace?: string;
  /** Name of the ConfigMap. Default `extension-apiserver-authentication`. */
  readonly name?: string;
  /** `--authentication-skip-lookup`: never read the ConfigMap (only the file overrides apply). Default false. */
  readonly authenticationSkipLookup?: boolean;
  /**
   * `--authentication-tolerate-lookup-failure`: a failed first read is logged and startup continues without the
   * cluster's trust (requests may all become anonymous). Default false: `runOnce()` rejects.
   */
  readonly authenticationTolerateLookupFailure?: boolean;
  /** `--client-ca-file`: use this PEM file (re-read every minute) instead of the `client-ca-file` key. */
  readonly clientCaFile?: string;
  /**
   * `--requestheader-client-ca-file`: use this PEM file instead of the `requestheader-client-ca-file` key; the header
   * lists then come from the options below with Go's flag defaults, as Go does.
   */
  readonly requestheaderClientCaFile?: string;
  /** `--requestheader-username-headers`; overrides the ConfigMap key when set. */
  readonly requestheaderUsernameHeaders?: readonly string[];
  /** `--requestheader-uid-headers`; overrides the ConfigMap key when set. */
  readonly requestheaderUidHeaders?: readonly string[];
  /** `--requestheader-group-headers`; overrides the ConfigMap key when set. */
  readonly requestheaderGroupHeaders?: readonly string[];
  /** `--requestheader-extra-headers-prefix`; overrides the ConfigMap key when set. */
  readonly requestheaderExtraHeadersPrefix?: readonly string[];
  /** `--requestheader-allowed-names`; overrides the ConfigMap key when set (`[]` = any CN). */
  readonly requestheaderAllowedNames?: readonly string[];
  /**
   * When the ConfigMap is deleted or a value becomes invalid, drop the affected providers (their authenticators then
   * have no opinion) instead of serving the last-known-good value as Go does. Default false.
   */
  readonly failClosedOnTrustError?: boolean;
  /** Safety re-read of the ConfigMap besides the watch, ms. Default 60_000 (Go polls the CA every minute). */
  readonly pollInterval?: number;
  /** Server-side watch timeout, seconds; the watch is then resumed from the last resourceVersion. Default 300. */
  readonly watchTimeoutSeconds?: number;
  /** First delay before restarting a failed watch, ms; doubles up to `maxRetryDelay`. Default 1_000. */
  readonly retryDelay?: number;
  /** Cap of the restart delay, ms. Default 30_000. */
  readonly maxRetryDelay?: number;
  readonly logger?: Logger;
  /** Time source for status timestamps, ms. Default `Date.now`. */
  readonly clock?: Clock;
}

interface ConfigMap {
  readonly metadata?: { readonly name?: string; readonly resourceVersion?: string };
  readonly data?: Readonly<Record<string, string>>;
}

/**
 * The cluster's trust, read from kube-system/extension-apiserver-authentication like Go's ConfigMapCAController and
 * RequestHeaderAuthRequestController: `runOnce()` reads it (Forbidden names the exact RoleBinding to create),
 * `start()` watches it (resumes from the last resourceVersion, relists on 410/ERROR, restarts with backoff) and
 * re-reads it every minute. Each change applies live: CA providers bump `version` only when the bytes change.
 * A deleted ConfigMap or invalid value keeps the last-known-good value (logged at error, reported by `status()`),
 * unless `failClosedOnTrustError`.
 */
export class ExtensionApiserverAuthentication implements TrustSource {
  readonly clientCA: CABundleProvider;
  readonly requestHeaderCA: CABundleProvider;
  readonly requestHeaderConfig: RequestHeaderConfigProvider;

  readonly #opts: ExtensionApiserverAuthenticationOptions;
  readonly #client: RestClient | undefined;
  readonly #namespace: string;
  readonly #cmName: string;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #failClosed: boolean;
  readonly #listeners = new Set<Listener>();
  readonly #files: FileCABundleProvider[] = [];
  readonly #fileUnsubscribes: (() => void)[] = [];
  readonly #cmClientCA: MutableProvider<CABundle> | undefined;
  readonly #cmRequestHeaderCA: MutableProvider<CABundle> | undefined;
  readonly #cmHeaderConfig: MutableProvider<RequestHeaderConfig> | undefined;
  /** The ConfigMap values last applied per CA key (a key present with `undefined` = applied as missing). */
  readonly #appliedCA = new Map<string, string | undefined>();
  /** The requestheader-* values last applied, serialised; undefined = none applied yet. */
  #appliedHeaders: string | undefined;
  /** Whether "configmap not found" was logged since the last time the ConfigMap was seen. */
  #missingLogged = false;
  /** The list/watch loop over the ConfigMap; undefined without a client or without ConfigMap-backed providers. */
  readonly #watch: WatchOne<ConfigMap> | undefined;
  #started = false;
  #closed = false;
  /** Whether the ConfigMap has been seen at least once (a later absence is then a deletion). */
  #seen = false;

  constructor(opts: ExtensionApiserverAuthenticationOptions = {}) {
    this.#opts = opts;
    this.#namespace = opts.namespace ?? trustDefaults.namespace;
    this.#cmName = opts.name ?? trustDefaults.configMapName;
    this.#logger = opts.logger ?? noopLogger;
    this.#clock = opts.clock ?? systemClock;
    this.#failClosed = opts.failClosedOnTrustError ?? false;
    const lookup = !opts.authenticationSkipLookup;
    this.#client = lookup ? opts.client : undefined;
    const base = `${this.#namespace}::${this.#cmName}`;

    if (opts.clientCaFile) {
      const f = fileCABundle(opts.clientCaFile, {
        name: `client-ca-bundle::${opts.clientCaFile}`,
        logger: this.#logger,
      });
      this.#files.push(f);
      this.clientCA = f;
    } else {
      this.#cmClientCA = new MutableProvider<CABundle>(`client-ca::${base}::${configMapKeys.clientCA}`);
      this.clientCA = this.#cmClientCA;
    }
    if (opts.requestheaderClientCaFile) {
      const f = fileCABundle(opts.requestheaderClientCaFile, {
        name: `request-header::${opts.requestheaderClientCaFile}`,
        logger: this.#logger,
      });
      this.#files.push(f);
      this.requestHeaderCA = f;
      this.requestHeaderConfig = staticRequestHeaderConfig(this.#overrides(), 'request-header-config::flags');
    } else {
      this.#cmRequestHeaderCA = new MutableProvider<CABundle>(
        `request-header::${base}::${configMapKeys.requestHeaderCA}`,
      );
      this.requestHeaderCA = this.#cmRequestHeaderCA;
      this.#cmHeaderConfig = new MutableProvider<RequestHeaderConfig>(`request-header-config::${base}`);
      this.requestHeaderConfig = this.#cmHeaderConfig;
    }
    for (const f of this.#files) this.#fileUnsubscribes.push(f.addListener(() => this.#notify()));
    if (this.#client && (this.#cmClientCA || this.#cmRequestHeaderCA)) {
      this.#watch = new WatchOne<ConfigMap>({
        client: this.#client,
        path: `/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/configmaps`,
        name: this.#cmName,
        kind: 'configmap',
        logger: this.#logger,
        onObject: (cm) => this.#apply(cm),
        onListError: (err) => this.#onReadError(err),
        onListSuccess: () => (this.#readError = undefined),
        describeError: (err) => this.#describeReadError(err),
        ...(opts.pollInterval !== undefined && { pollInterval: opts.pollInterval }),
        ...(opts.watchTimeoutSeconds !== undefined && { watchTimeoutSeconds: opts.watchTimeoutSeconds }),
        ...(opts.retryDelay !== undefined && { retryDelay: opts.retryDelay }),
        ...(opts.maxRetryDelay !== undefined && { maxRetryDelay: opts.maxRetryDelay }),
      });
    }
  }

  addListener(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): readonly TrustStatus[] {
    const out: TrustStatus[] = [];
    const readError = this.#readError;
    for (const p of [this.clientCA, this.requestHeaderCA, this.requestHeaderConfig]) {
      const h = p instanceof MutableProvider ? p.health : undefined;
      const lastError = h?.lastError ?? (h && readError ? readError.message : undefined);
      const lastErrorAt = h?.lastError !== undefined ? h.lastErrorAt : h && readError ? readError.at : undefined;
      out.push({
        name: p.name,
        loaded: p.current() !== undefined,
        ...(h?.loadedAt !== undefined && { lastLoadedAt: h.loadedAt }),
        ...(lastError !== undefined && { lastError }),
        ...(lastErrorAt !== undefined && { lastErrorAt }),
      });
    }
    return out;
  }

  /** The last failure to read the ConfigMap, until a read succeeds again. */
  #readError: { readonly message: string; readonly at: number } | undefined;

  /** Loads the file overrides and reads the ConfigMap once. Rejects as Go's startup does (see class doc). */
  async runOnce(signal?: AbortSignal): Promise<void> {
    if (this.#closed) throw new KdaError('ERR_KDA_CLOSED', 'extension-apiserver-authentication trust source is closed');
    for (const f of this.#files) await f.runOnce();
    if (!this.#cmClientCA && !this.#cmRequestHeaderCA) return;
    if (this.#opts.authenticationSkipLookup) return;
    if (!this.#client) {
      if (this.#cmClientCA) {
        this.#logger.warn(
          {},
          `No authentication-kubeconfig provided in order to lookup client-ca-file in configmap/${this.#cmName} in ${this.#namespace}, so client certificate authentication won't work.`,
        );
      }
      if (this.#cmRequestHeaderCA) {
        this.#logger.warn(
          {},
          `No authentication-kubeconfig provided in order to lookup requestheader-client-ca-file in configmap/${this.#cmName} in ${this.#namespace}, so request-header client certificate authentication won't work.`,
        );
      }
      return;
    }
    try {
      await this.#watch!.list(signal);
      const h = this.#cmHeaderConfig;
      // Go fails startup on an undecodable header list (the CA part only logs).
      if (h?.health.lastError !== undefined && h.current() === undefined) {
        throw new KdaError('ERR_KDA_TRUST_UNAVAILABLE', h.health.lastError);
      }
    } catch (err) {
      const cause = this.#describeReadError(err);
      if (this.#opts.authenticationTolerateLookupFailure) {
        this.#logger.warn({ error: cause }, `Error looking up in-cluster authentication configuration: ${cause}`);
        this.#logger.warn(
          {},
          'Continuing without authentication configuration. This may treat all requests as anonymous.',
        );
        this.#logger.warn(
          {},
          'To require authentication configuration lookup to succeed, set --authentication-tolerate-lookup-failure=false',
        );
        this.#recordError(cause, [this.#cmClientCA, this.#cmRequestHeaderCA, this.#cmHeaderConfig]);
        return;
      }
      const fix = this.#readErrorFix(err);
      throw new KdaError(
        'ERR_KDA_TRUST_UNAVAILABLE',
        `unable to load configmap based request-header-client-ca-file: ${cause}`,
        {
          cause: err,
          details: {
            caName: `configmap/${this.#namespace}/${this.#cmName}`,
            ...(fix !== undefined && { fix }),
          },
        },
      );
    }
  }

  /** Starts the file pollers, the watch and the periodic re-read. Idempotent; call after `runOnce()`. */
  start(): void {
    if (this.#closed || this.#started) return;
    this.#started = true;
    for (const f of this.#files) f.start();
    this.#watch?.start();
  }

  /** Stops watching and polling; idempotent. Providers keep their last values. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const u of this.#fileUnsubscribes) u();
    await Promise.all(this.#files.map((f) => f.close()));
    await this.#watch?.close();
    this.#listeners.clear();
  }

  // --- reading -------------------------------------------------------------------------------------------------

  /**
   * Remembered so status() (and so /readyz?verbose and metrics) shows that trust is last-known-good because the
   * ConfigMap can't be read any more (e.g. the reader RoleBinding was removed), not only the log.
   */
  #onReadError(err: unknown): void {
    const message = `unable to read configmap ${this.#namespace}/${this.#cmName}: ${this.#describeReadError(err)}`;
    if (this.#readError?.message !== message) this.#readError = { message, at: this.#clock.now() };
  }

  #describeReadError(err: unknown): string {
    const fix = this.#readErrorFix(err);
    if (fix !== undefined) return `${(err as Error).message}. Usually fixed by '${fix}'`;
    return err instanceof Error ? err.message : String(err);
  }

  /** The command that fixes a forbidden read (Go prints it in the message; the CLI shows it as the fix). */
  #readErrorFix(err: unknown): string | undefined {
    if (!(err instanceof KubeApiError) || err.statusCode !== 403) return undefined;
    const identity = this.#client?.connection.identity;
    return rolebindingFixCommand(identity, bindingName(identity));
  }

  // --- applying ------------------------------------------------------------------------------------------------

  #apply(cm: ConfigMap | undefined): void {
    let changed = false;
    if (cm === undefined) {
      if (this.#seen) {
        // Forget the inputs so a re-created ConfigMap is applied (and clears the error) even with the same bytes.
        this.#appliedCA.clear();
        this.#appliedHeaders = undefined;
        this.#missingLogged = false;
        const msg = `configmap ${this.#namespace}/${this.#cmName} was deleted`;
        changed = this.#onGone(msg, [this.#cmClientCA, this.#cmRequestHeaderCA, this.#cmHeaderConfig]);
      } else if (!this.#missingLogged) {
        this.#missingLogged = true;
        this.#logger.warn(
          { configmap: `${this.#namespace}/${this.#cmName}` },
          'configmap not found: client-certificate and front-proxy authentication from the cluster are disabled until it appears',
        );
      }
    } else {
      this.#seen = true;
      this.#missingLogged = false;
      const data = cm.data ?? {};
      if (this.#cmClientCA && this.#applyCA(this.#cmClientCA, configMapKeys.clientCA, data[configMapKeys.clientCA]))
        changed = true;
      if (
        this.#cmRequestHeaderCA &&
        this.#applyCA(this.#cmRequestHeaderCA, configMapKeys.requestHeaderCA, data[configMapKeys.requestHeaderCA])
      ) {
        changed = true;
      }
      if (this.#cmHeaderConfig && this.#applyHeaderConfig(this.#cmHeaderConfig, data)) changed = true;
    }
    if (changed) this.#notify();
  }

  /** Returns true when the provider's value changed. */
  #applyCA(p: MutableProvider<CABundle>, key: string, value: string | undefined): boolean {
    const prev = this.#appliedCA.get(key);
    if (
      this.#appliedCA.has(key) &&
      value === prev &&
      (value === undefined || p.current() !== undefined || p.health.lastError !== undefined)
    ) {
      return false; // unchanged input: nothing new to say
    }
    this.#appliedCA.set(key, value);
    if (value === undefined || value.trim() === '') {
      if (p.current() === undefined && p.health.lastError === undefined) {
        this.#logger.warn(
          { name: p.name, key },
          `configmap ${this.#namespace}/${this.#cmName} has no key "${key}": ${p.name} is disabled`,
        );
        return false;
      }
      return this.#onGone(`missing content for CA bundle "${p.name}" (key "${key}")`, [p]);
    }
    let parsed;
    try {
      parsed = parsePemBundle(value, `configmap ${this.#namespace}/${this.#cmName} key "${key}"`);
    } catch (err) {
      return this.#onGone(`error loading CA bundle for "${p.name}": ${(err as Error).message}`, [p]);
    }
    const cur = p.current();
    p.health.lastError = undefined;
    p.health.lastErrorAt = undefined;
    p.health.loadedAt = this.#clock.now();
    if (cur && cur.pem === parsed.pem) return false;
    const bundle: CABundle = Object.freeze({
      pem: parsed.pem,
      certificates: parsed.certificates,
      version: (cur?.version ?? this.#versions.get(p) ?? 0) + 1,
    });
    this.#versions.set(p, bundle.version);
    p.set(bundle);
    this.#logger.info(
      { name: p.name, version: bundle.version, certificates: parsed.certificates.length },
      'loaded a new CA bundle',
    );
    return true;
  }

  /** Versions survive a fail-closed drop, so a re-added bundle never reuses a number. */
  readonly #versions = new Map<MutableProvider<CABundle>, number>();

  #applyHeaderConfig(p: MutableProvider<RequestHeaderConfig>, data: Readonly<Record<string, string>>): boolean {
    const k = configMapKeys;
    const headerKeys = [k.usernameHeaders, k.uidHeaders, k.groupHeaders, k.extraHeaderPrefixes, k.allowedNames];
    const sig = JSON.stringify(headerKeys.map((key) => data[key] ?? null));
    if (this.#appliedHeaders === sig && (p.current() !== undefined || p.health.lastError !== undefined)) return false;
    this.#appliedHeaders = sig;
    if (!headerKeys.some((key) => data[key] !== undefined) && !data[k.requestHeaderCA]) {
      if (p.current() === undefined && p.health.lastError === undefined) {
        this.#logger.warn(
          { name: p.name },
          `configmap ${this.#namespace}/${this.#cmName} has no requestheader-* keys: front-proxy authentication is disabled`,
        );
        return false;
      }
      return this.#onGone(`configmap ${this.#namespace}/${this.#cmName} no longer has requestheader-* keys`, [p]);
    }
    let next: RequestHeaderConfig;
    try {
      const o = this.#opts;
      next = Object.freeze({
        usernameHeaders:
          o.requestheaderUsernameHeaders ?? deserializeStrings(data[k.usernameHeaders], k.usernameHeaders),
        uidHeaders: o.requestheaderUidHeaders ?? deserializeStrings(data[k.uidHeaders], k.uidHeaders),
        groupHeaders: o.requestheaderGroupHeaders ?? deserializeStrings(data[k.groupHeaders], k.groupHeaders),
        extraHeaderPrefixes:
          o.requestheaderExtraHeadersPrefix ?? deserializeStrings(data[k.extraHeaderPrefixes], k.extraHeaderPrefixes),
        allowedNames: o.requestheaderAllowedNames ?? deserializeStrings(data[k.allowedNames], k.allowedNames),
      });
    } catch (err) {
      return this.#onGone(`invalid request-header configuration: ${(err as Error).message}`, [p]);
    }
    p.health.lastError = undefined;
    p.health.lastErrorAt = undefined;
    p.health.loadedAt = this.#clock.now();
    const cur = p.current();
    if (cur && JSON.stringify(cur) === JSON.stringify(next)) return false;
    p.set(next);
    this.#logger.info({ name: p.name, ...next }, 'loaded a new request-header configuration');
    return true;
  }

  /** Keeps last-known-good (or drops it when failing closed), logs loudly, records the error. */
  #onGone(message: string, providers: readonly (MutableProvider<unknown> | undefined)[]): boolean {
    let changed = false;
    for (const p of providers) {
      if (!p) continue;
      const first = p.health.lastError !== message;
      this.#recordError(message, [p]);
      if (this.#failClosed) {
        if (p.current() !== undefined) {
          p.set(undefined);
          changed = true;
        }
        if (first)
          this.#logger.error(
            { name: p.name, error: message },
            'trust source error: provider disabled (failClosedOnTrustError)',
          );
      } else if (first) {
        this.#logger.error(
          { name: p.name, error: message, loaded: p.current() !== undefined },
          p.current() !== undefined ? 'trust source error: keeping the last-known-good value' : 'trust source error',
        );
      }
    }
    return changed;
  }

  #recordError(message: string, providers: readonly (MutableProvider<unknown> | undefined)[]): void {
    for (const p of providers) {
      if (!p) continue;
      if (p.health.lastError !== message) p.health.lastErrorAt = this.#clock.now();
      p.health.lastError = message;
    }
  }

  #notify(): void {
    notifyAll(this.#listeners);
  }

  #overrides(): Partial<RequestHeaderConfig> {
    const o = this.#opts;
    return {
      ...(o.requestheaderUsernameHeaders && { usernameHeaders: o.requestheaderUsernameHeaders }),
      ...(o.requestheaderUidHeaders && { uidHeaders: o.requestheaderUidHeaders }),
      ...(o.requestheaderGroupHeaders && { groupHeaders: o.requestheaderGroupHeaders }),
      ...(o.requestheaderExtraHeadersPrefix && { extraHeaderPrefixes: o.requestheaderExtraHeadersPrefix }),
      ...(o.requestheaderAllowedNames && { allowedNames: o.requestheaderAllowedNames }),
    };
  }
}

/** A RoleBinding name derived from the identity (`<sa>-auth-reader`), valid as an object name. */
function bindingName(identity: string | undefined): string {
  const sa = /^system:serviceaccount:[^:]+:([^:]+)$/.exec(identity ?? '');
  const base = (sa ? sa[1]! : (identity ?? 'extension-apiserver'))
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return `${base || 'extension-apiserver'}-auth-reader`;
}
