import { createPrivateKey, X509Certificate } from 'node:crypto';
import { loadConnectionConfig, serviceAccountDir, type ConnectionConfig } from '../cluster/kubeconfig.js';
import { parsePemBundle } from '../trust/pem.js';
import { explainError, oneLine, StartupError } from './startup-error.js';

/** Which kubeconfig a purpose resolves to, named as the operator gave it. */
export interface KubeconfigChoice {
  /** `--kubeconfig /x`, `$KUBECONFIG /x`, or `in-cluster service account (…)`: the subject of errors. */
  readonly subject: string;
  /** The explicit path, when one was given by flag. */
  readonly path?: string;
  /** Flags for a kubectl command reaching the same cluster (`--kubeconfig /x`), '' when kubectl finds it itself. */
  readonly kubectlFlags: string;
}

/**
 * The kubeconfig Go's delegating options pick for a purpose: the specific flag, then `--kubeconfig`, then
 * `$KUBECONFIG`, then the in-cluster service account (the order of `createClusterClients`).
 */
export function kubeconfigChoice(
  flags: readonly { readonly flag: string; readonly path: string | undefined }[],
  env: NodeJS.ProcessEnv,
): KubeconfigChoice {
  for (const { flag, path } of flags) {
    if (path) return { subject: `${flag} ${path}`, path, kubectlFlags: `--kubeconfig ${path}` };
  }
  if (env.KUBECONFIG) return { subject: `$KUBECONFIG ${env.KUBECONFIG}`, kubectlFlags: '' };
  return { subject: `in-cluster service account (${serviceAccountDir})`, kubectlFlags: '' };
}

/** `failed to get delegated authentication kubeconfig: kubeconfig:/x: no current context` → `no current context`. */
function kubeconfigReason(err: unknown, file: string | undefined): string {
  const cause = (err as { cause?: unknown }).cause ?? err;
  const x = explainError(cause, { ...(file !== undefined && { file }) });
  return oneLine(x.reason.replace(/^kubeconfig:\S*?: /, ''));
}

/**
 * Loads a kubeconfig as the library will and checks what only fails at the first request otherwise: the PEM of
 * the cluster CA, the client certificate and key, and that the key belongs to the certificate. Throws a
 * {@link StartupError} naming the kubeconfig.
 */
export function loadKubeconfigChecked(
  choice: KubeconfigChoice,
  purpose: 'authentication' | 'authorization',
  env: NodeJS.ProcessEnv,
): ConnectionConfig {
  let conn: ConnectionConfig;
  try {
    conn = loadConnectionConfig({ ...(choice.path && { kubeconfig: choice.path }), env, purpose });
  } catch (err) {
    const fix = choice.path
      ? undefined
      : 'pass --kubeconfig <file> (or set $KUBECONFIG); without either, serve runs in standalone mode';
    throw new StartupError(choice.subject, `invalid kubeconfig: ${kubeconfigReason(err, choice.path)}`, fix, {
      cause: err,
    });
  }
  const bad = (what: string, err: unknown) =>
    new StartupError(choice.subject, `${what}: ${oneLine((err as Error).message ?? String(err))}`, undefined, {
      cause: err,
    });
  if (conn.ca !== undefined) {
    try {
      parsePemBundle(conn.ca, 'certificate-authority');
    } catch (err) {
      throw bad('the cluster certificate-authority is not a PEM CA bundle', err);
    }
  }
  if (conn.cert !== undefined && conn.key !== undefined) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(conn.cert);
    } catch (err) {
      throw bad('the user client-certificate is not a PEM certificate', err);
    }
    try {
      if (!cert.checkPrivateKey(createPrivateKey(conn.key))) {
        throw new Error('the key does not belong to the certificate');
      }
    } catch (err) {
      throw bad('the user client-key does not match its client-certificate or cannot be parsed', err);
    }
  }
  return conn;
}
