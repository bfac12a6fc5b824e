// The options of runDoctor, in their own module so the per-check files and run-doctor.ts share them without a cycle.
import type { ConnectionConfig } from '../cluster/kubeconfig.js';

export interface DoctorOptions {
  /** kubeconfig path; default `KUBECONFIG`, then the in-cluster service account (as `serve`). */
  readonly kubeconfig?: string;
  /** A ready connection (wins over `kubeconfig`); for embedding and tests. */
  readonly connection?: ConnectionConfig;
  /** API group of the APIService to check (with `version`). Default: no APIService checks. */
  readonly group?: string;
  /** API version of the APIService to check (with `group`). */
  readonly version?: string;
  /**
   * Which ConfigMap to read instead of kube-system/extension-apiserver-authentication, e.g. an edited copy to check
   * before applying it. Default: the real one.
   */
  readonly configMap?: { readonly namespace: string; readonly name: string };
  /** A CA expiring within this many days is a warning. Default 30. */
  readonly expiryWarningDays?: number;
  /** Per-request timeout in ms. Default 10000. */
  readonly timeout?: number;
  /** Environment for `KUBECONFIG` / in-cluster lookup. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Clock, ms since epoch. Default `Date.now`. */
  readonly now?: () => number;
}
