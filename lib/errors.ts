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
  | 'ERR_KDA_CLOSED'
  /** A call to kube-apiserver failed (`KubeApiError`, lib/cluster). */
  | 'ERR_KDA_KUBE_API'
  /** A webhook callback asked the caller to retry later (`TransientError`, lib/webhook). */
  | 'ERR_KDA_TRANSIENT';

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
  /** The command or change that fixes the problem, when known (e.g. the `kubectl create rolebinding …` line). */
  readonly fix?: string;
  readonly [key: string]: unknown;
}

/**
 * Brand that survives duplicate copies of this module (ESM and CJS builds, two installed versions): its value is the
 * list of branded class names the error was constructed as, so `instanceof` answers per class and a plain
 * `KdaError` is never taken for an `InvalidOptionError` (a static `Symbol.hasInstance` is inherited by subclasses).
 */
const brand = Symbol.for('kube-delegated-auth.error');

/** The brand names of `ctor` and every class it extends that declares its own `brandName`. */
function brandNames(ctor: unknown): string[] {
  const names: string[] = [];
  for (let c = ctor; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
    if (Object.hasOwn(c, 'brandName')) names.push((c as unknown as { brandName: string }).brandName);
  }
  return names;
}

export class KdaError extends Error {
  /** Names this class in the cross-copy brand; subclasses of this library declare their own. */
  static readonly brandName: string = 'KdaError';
  readonly code: KdaErrorCode;
  readonly details: KdaErrorDetails;

  constructor(code: KdaErrorCode, message: string, options?: { cause?: unknown; details?: KdaErrorDetails }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KdaError';
    this.code = code;
    this.details = options?.details ?? {};
    Object.defineProperty(this, brand, { value: brandNames(new.target) });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    // A class without its own brandName (a user's subclass) is checked by its prototype chain, as usual.
    if (!Object.hasOwn(this, 'brandName')) return Function.prototype[Symbol.hasInstance].call(this, value);
    const names = (value as Record<symbol, unknown>)[brand];
    return Array.isArray(names) && names.includes((this as unknown as { brandName: string }).brandName);
  }
}

/** Thrown at construction time; lists every problem found, like Go's `Validate() []error`. */
export class InvalidOptionError extends KdaError {
  static override readonly brandName: string = 'InvalidOptionError';
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
