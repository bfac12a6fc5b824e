import type { X509Certificate } from 'node:crypto';

/** "May have changed": re-read current(); events carry no payload. */
export type Listener = () => void;

export interface Notifier {
  /** Returns an unsubscribe function. */
  addListener(listener: Listener): () => void;
}

export interface CABundle {
  /** The bundle as PEM text (normalised: one block per certificate, joined by newlines). */
  readonly pem: string;
  readonly certificates: readonly X509Certificate[];
  /** Monotonic per provider; changes whenever the bytes change. Part of the per-socket verdict cache key. */
  readonly version: number;
}

export interface CABundleProvider extends Notifier {
  /** e.g. 'requestheader-client-ca::configmap/kube-system/extension-apiserver-authentication' */
  readonly name: string;
  /** Last good value; undefined = never loaded (authenticators using it have no opinion). */
  current(): CABundle | undefined;
}

export interface RequestHeaderConfig {
  readonly usernameHeaders: readonly string[];
  readonly uidHeaders: readonly string[];
  readonly groupHeaders: readonly string[];
  readonly extraHeaderPrefixes: readonly string[];
  readonly allowedNames: readonly string[];
}

export interface RequestHeaderConfigProvider extends Notifier {
  readonly name: string;
  current(): RequestHeaderConfig | undefined;
}

/** Health of a dynamic source, for /readyz?verbose and metrics. */
export interface TrustStatus {
  readonly name: string;
  readonly loaded: boolean;
  /** ms since epoch of the last successful load. */
  readonly lastLoadedAt?: number;
  /** Set while the source is serving last-known-good because of an error. */
  readonly lastError?: string;
  readonly lastErrorAt?: number;
}

export interface TrustSource extends Notifier {
  readonly clientCA: CABundleProvider;
  readonly requestHeaderCA: CABundleProvider;
  readonly requestHeaderConfig: RequestHeaderConfigProvider;
  status(): readonly TrustStatus[];
  /** Prime before listening (Go RunOnce). */
  runOnce(signal?: AbortSignal): Promise<void>;
  /** Watch until close(). */
  start(): void;
  close(): Promise<void>;
}

/** A serving certificate chain and its private key, as PEM, validated as a pair. */
export interface CertKeyPair {
  readonly cert: string;
  readonly key: string;
  /** Monotonic per provider; changes whenever the bytes change. */
  readonly version: number;
}

/** Go's `CertKeyContentProvider`: the serving certificate, swappable at runtime. */
export interface CertKeyProvider extends Notifier {
  /** e.g. 'serving-cert::/etc/tls/tls.crt::/etc/tls/tls.key' */
  readonly name: string;
  /** Last good pair; undefined = never loaded. */
  current(): CertKeyPair | undefined;
}
