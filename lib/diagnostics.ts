import type { X509Certificate } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import type { UserInfo } from './authn/interfaces.js';
import type { Decision, RequestAttributes } from './authz/interfaces.js';
import type { KdaError } from './errors.js';
import { suppressedLogChannelName } from './util/refusal-log.js';

export type { SuppressedLogEvent } from './util/refusal-log.js';

/**
 * The diagnostics_channel names the library publishes on, declared once (undici's lib/core/diagnostics.js). The
 * request pipeline publishes, lib/metrics subscribes; applications may subscribe too (`node:diagnostics_channel`).
 */
export const channelNames = Object.freeze({
  /** One event per authenticated request: {@link AuthenticationEvent}. */
  authn: 'kube-delegated-auth:authn',
  /** One event per authorized request: {@link AuthorizationEvent}. */
  authz: 'kube-delegated-auth:authz',
  /** One event per refusal log line suppressed by the rate limit: {@link SuppressedLogEvent}. */
  logSuppressed: suppressedLogChannelName,
} as const);

/**
 * Published once per request (when someone subscribes), `result` being Go's `authentication_attempts` label
 * (`success`, `failure` = no credentials accepted, `error`).
 */
export interface AuthenticationEvent {
  readonly result: 'success' | 'failure' | 'error';
  /** The authenticator that accepted the request (absent on failure). */
  readonly authenticator?: string;
  readonly user?: UserInfo;
  readonly error?: KdaError;
  readonly durationSeconds: number;
  /**
   * The client certificate chain, leaf first ([] without one); lib/metrics reads the leaf's expiry for Go's
   * `apiserver_client_certificate_expiration_seconds`. Read lazily from the socket, so it costs nothing unless used.
   */
  readonly peerCertificates?: readonly X509Certificate[];
}

/** Published once per authorized request: the decision with Go's `authorization_attempts_total` label. */
export interface AuthorizationEvent {
  readonly attributes: RequestAttributes;
  readonly decision: Decision;
  readonly reason: string;
  readonly error?: Error;
  readonly result: 'allowed' | 'denied' | 'no-opinion' | 'error';
  readonly durationSeconds: number;
}

/** The channel objects (node:diagnostics_channel returns the same object for the same name, so these are shared). */
export const authenticationChannel = channel(channelNames.authn);
export const authorizationChannel = channel(channelNames.authz);
