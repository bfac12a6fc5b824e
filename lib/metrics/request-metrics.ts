// The Go-named per-request metrics of k8s.io/apiserver (endpoints/filters/metrics.go, the x509 authenticator) and the
// suppressed-refusal-log counter, fed by the library's diagnostics channels (lib/diagnostics): nothing is paid on the
// request path when no metrics object subscribes.
import type { X509Certificate } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { UserInfo } from '../authn/interfaces.js';
import { channelNames } from '../diagnostics.js';

/** What `authenticate()` publishes on `kube-delegated-auth:authn` (fields read here; extra fields are ignored). */
export interface AuthenticationEventLike {
  /** Go's `authentication_attempts` label. */
  readonly result: 'success' | 'failure' | 'error';
  readonly durationSeconds: number;
  readonly authenticator?: string;
  readonly user?: UserInfo;
  /** Leaf first; [] without a client certificate. */
  readonly peerCertificates?: readonly X509Certificate[];
}

/** What `authorize()` publishes on `kube-delegated-auth:authz`. */
export interface AuthorizationEventLike {
  /** Go's `authorization_attempts_total` label. */
  readonly result: 'allowed' | 'denied' | 'no-opinion' | 'error';
  readonly durationSeconds: number;
}

// Go's endpoints/filters/metrics.go: ExponentialBuckets(0.001, 2, 15).
const attemptBuckets = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);
// Go's x509 authenticator: 0, 30m, 1h, 2h, 6h, 12h, 1d, 2d, 4d, 1w, 30d, 90d, 180d, 365d (seconds).
const hour = 3600;
const day = 24 * hour;
const certificateExpirationBuckets = [
  0,
  1800,
  hour,
  2 * hour,
  6 * hour,
  12 * hour,
  day,
  2 * day,
  4 * day,
  7 * day,
  30 * day,
  90 * day,
  180 * day,
  365 * day,
];

// Go's compressUsername (endpoints/filters/metrics.go): keeps the label set bounded.
const knownUsers = new Set(['admin', 'client', 'kube_proxy', 'kubelet', 'system:serviceaccount:kube-system:default']);
export function compressUsername(name: string): string {
  if (knownUsers.has(name)) return name;
  if (name.includes('@')) return 'email_id';
  return 'other';
}

/**
 * Registers the attempt, duration, user and client-certificate metrics in `registers` and subscribes them to the
 * authn, authz and log-suppressed channels. Returns the unsubscribe function.
 */
export function subscribeRequestMetrics(registers: Registry[], clock: { now(): number }): () => void {
  const authnAttempts = new Counter({
    name: 'authentication_attempts',
    help: 'Counter of authenticated attempts.',
    labelNames: ['result'],
    registers,
  });
  const authnDuration = new Histogram({
    name: 'authentication_duration_seconds',
    help: 'Authentication duration in seconds broken out by result.',
    labelNames: ['result'],
    buckets: attemptBuckets,
    registers,
  });
  const authenticatedUsers = new Counter({
    name: 'authenticated_user_requests',
    help: 'Counter of authenticated requests broken out by username.',
    labelNames: ['username'],
    registers,
  });
  const authzAttempts = new Counter({
    name: 'authorization_attempts_total',
    help: 'Counter of authorization attempts broken down by result. It can be either allowed, denied, no-opinion or error.',
    labelNames: ['result'],
    registers,
  });
  const authzDuration = new Histogram({
    name: 'authorization_duration_seconds',
    help: 'Authorization duration in seconds broken out by result.',
    labelNames: ['result'],
    buckets: attemptBuckets,
    registers,
  });
  const certificateExpiration = new Histogram({
    name: 'apiserver_client_certificate_expiration_seconds',
    help: 'Distribution of the remaining lifetime on the certificate used to authenticate a request.',
    buckets: certificateExpirationBuckets,
    registers,
  });

  const onAuthn = (message: unknown): void => {
    const e = message as AuthenticationEventLike;
    authnAttempts.inc({ result: e.result });
    authnDuration.observe({ result: e.result }, e.durationSeconds);
    if (e.result === 'success' && e.user) authenticatedUsers.inc({ username: compressUsername(e.user.name) });
    // Go observes in the client-certificate authenticator, which runs unless the front proxy already authenticated.
    const leaf = e.peerCertificates?.[0];
    if (leaf && !(e.result === 'success' && e.authenticator === 'requestheader')) {
      const notAfter = Date.parse(leaf.validTo);
      if (Number.isFinite(notAfter)) certificateExpiration.observe((notAfter - clock.now()) / 1000);
    }
  };
  const onAuthz = (message: unknown): void => {
    const e = message as AuthorizationEventLike;
    authzAttempts.inc({ result: e.result });
    authzDuration.observe({ result: e.result }, e.durationSeconds);
  };
  const suppressedLogLines = new Counter({
    name: 'kube_delegated_auth_suppressed_log_lines_total',
    help: 'Refusal log lines not written because their cause exceeded the per-cause rate limit, by category.',
    labelNames: ['category'],
    registers,
  });
  const onLogSuppressed = (message: unknown): void => {
    suppressedLogLines.inc({ category: (message as { category: string }).category });
  };
  subscribe(channelNames.authn, onAuthn);
  subscribe(channelNames.authz, onAuthz);
  subscribe(channelNames.logSuppressed, onLogSuppressed);
  return () => {
    unsubscribe(channelNames.authn, onAuthn);
    unsubscribe(channelNames.authz, onAuthz);
    unsubscribe(channelNames.logSuppressed, onLogSuppressed);
  };
}
