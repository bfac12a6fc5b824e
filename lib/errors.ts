/** Every error code this library produces. Switch on `err.code` to narrow. */
export type KdaErrorCode =
  | 'ERR_KDA_INVALID_OPTION'
  | 'ERR_KDA_CERT_UNTRUSTED'
  | 'ERR_KDA_CERT_USAGE'
  | 'ERR_KDA_CN_NOT_ALLOWED'
  | 'ERR_KDA_BAD_HEADER'
  | 'ERR_KDA_TOKEN_REJECTED'
  | 'ERR_KDA_REVIEW_FAILED'
  | 'ERR_KDA_REVIEW_TIMEOUT'
  | 'ERR_KDA_TRUST_UNAVAILABLE'
  | 'ERR_KDA_REQUEST_INFO'
  | 'ERR_KDA_NO_USER'
  | 'ERR_KDA_CLOSED';

/**
 * Structured facts about a refusal, logged as fields (never sent to the client).
 * `check` names the exact test that failed, e.g. `chain`, `eku`, `validity`, `allowed-names`.
 */
export interface KdaErrorDetails {
  readonly authenticator?: string;
  readonly check?: string;
  readonly subjectCN?: string;
  readonly issuer?: string;
  readonly caName?: string;
  readonly header?: string;
  readonly [key: string]: unknown;
}

const brand = Symbol.for('kube-delegated-auth.error');

export class KdaError extends Error {
  readonly code: KdaErrorCode;
  readonly details: KdaErrorDetails;

  constructor(code: KdaErrorCode, message: string, options?: { cause?: unknown; details?: KdaErrorDetails }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KdaError';
    this.code = code;
    this.details = options?.details ?? {};
    Object.defineProperty(this, brand, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}

/** Thrown at construction time; lists every problem found, like Go's `Validate() []error`. */
export class InvalidOptionError extends KdaError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('ERR_KDA_INVALID_OPTION', problems.join('; '));
    this.name = 'InvalidOptionError';
    this.problems = problems;
  }
}

/** Aggregates several errors the way Go's utilerrors.NewAggregate does: `[a, b]`, or the single message. */
export function aggregateErrors(errors: readonly KdaError[]): KdaError | undefined {
  if (errors.length === 0) return undefined;
  if (errors.length === 1) return errors[0];
  const first = errors[0]!;
  return new KdaError(first.code, `[${errors.map((e) => e.message).join(', ')}]`, {
    details: { ...first.details, errors: errors.map((e) => ({ code: e.code, message: e.message, ...e.details })) },
  });
}
