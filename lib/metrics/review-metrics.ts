// Go's delegated authn/authz webhook request metrics (authenticatorfactory/metrics.go, authorizerfactory/metrics.go):
// one count and one latency per TokenReview or SubjectAccessReview call, labelled with the HTTP status or `<error>`.
import { Counter, Histogram, type Registry } from 'prom-client';

// Go's delegated authn/authz webhook request buckets (authenticatorfactory/metrics.go, authorizerfactory/metrics.go).
const requestBuckets = [0.25, 0.5, 0.7, 1, 1.5, 3, 5, 10];
/** Go labels a completed review with its HTTP status and a transport failure with `<error>`. */
function reviewCode(err: unknown): string {
  const status = (err as { details?: { status?: unknown } } | undefined)?.details?.status;
  return typeof status === 'number' && status > 0 ? String(status) : '<error>';
}

/** The TokenReview and SubjectAccessReview request metrics, and `timed` to record one call. */
export interface ReviewRequestMetrics {
  readonly authnRequests: Counter;
  readonly authnRequestDuration: Histogram;
  readonly authzRequests: Counter;
  readonly authzRequestDuration: Histogram;
  /** Runs `call`, counting it under `total`/`duration` with kube-apiserver's 201 or the failure's code. */
  timed<T>(total: Counter, duration: Histogram, call: () => Promise<T>): Promise<T>;
}

export function reviewRequestMetrics(registers: Registry[]): ReviewRequestMetrics {
  const authnRequests = new Counter({
    name: 'apiserver_delegated_authn_request_total',
    help: 'Number of HTTP requests partitioned by status code.',
    labelNames: ['code'],
    registers,
  });
  const authnRequestDuration = new Histogram({
    name: 'apiserver_delegated_authn_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by status code.',
    labelNames: ['code'],
    buckets: requestBuckets,
    registers,
  });
  const authzRequests = new Counter({
    name: 'apiserver_delegated_authz_request_total',
    help: 'Number of HTTP requests partitioned by status code.',
    labelNames: ['code'],
    registers,
  });
  const authzRequestDuration = new Histogram({
    name: 'apiserver_delegated_authz_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by status code.',
    labelNames: ['code'],
    buckets: requestBuckets,
    registers,
  });
  const timed = async <T>(total: Counter, duration: Histogram, call: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    let code = '201';
    try {
      return await call();
    } catch (err) {
      code = reviewCode(err);
      throw err;
    } finally {
      total.inc({ code });
      duration.observe({ code }, (performance.now() - started) / 1000);
    }
  };

  return { authnRequests, authnRequestDuration, authzRequests, authzRequestDuration, timed };
}
