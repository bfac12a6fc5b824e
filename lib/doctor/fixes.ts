// Helpers the doctor checks share: the fix commands they print, error text, and CA comparison.
import type { X509Certificate } from 'node:crypto';
import { KubeApiError } from '../cluster/rest-client.js';
import type { DoctorOptions } from './options.js';

export const configMapName = 'extension-apiserver-authentication';
export const day = 24 * 60 * 60 * 1000;

export function apiServerFlagFix(flag: string, value: string): string {
  return `add ${flag}=${value} to kube-apiserver's flags (kubeadm: /etc/kubernetes/manifests/kube-apiserver.yaml) and restart it; it rewrites kube-system/${configMapName} on start`;
}

export function subjectFlag(identity: string | undefined): string {
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(identity ?? '');
  if (sa) return `--serviceaccount=${sa[1]}:${sa[2]}`;
  if (identity) return `--user=${identity}`;
  return '--serviceaccount=<namespace>:<serviceaccount>';
}

export function authDelegatorFix(identity: string | undefined): string {
  const name = (identity ?? 'extension-apiserver').replace(/[^a-z0-9.-]+/gi, '-').toLowerCase();
  return `kubectl create clusterrolebinding ${name}:system:auth-delegator --clusterrole=system:auth-delegator ${subjectFlag(identity)}`;
}

export function describeError(err: unknown): string {
  if (err instanceof KubeApiError) {
    return err.statusCode ? `HTTP ${err.statusCode} ${err.reason ?? ''}: ${err.message}`.trim() : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Same CA: the same DER, or the same subject with the same public key (a re-issued copy of one CA). */
export function sameCA(a: X509Certificate, b: X509Certificate): boolean {
  if (a.raw.equals(b.raw)) return true;
  if (a.subject !== b.subject) return false;
  const ka = a.publicKey.export({ type: 'spki', format: 'der' });
  const kb = b.publicKey.export({ type: 'spki', format: 'der' });
  return ka.equals(kb);
}

export function cn(c: X509Certificate): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1] ?? c.subject.replace(/\n/g, ', ');
}

/** `kubectl` reaching the same cluster as the doctor: with `--kubeconfig <file>` when one was given. */
export function kubectl(opts: DoctorOptions): string {
  return opts.kubeconfig ? `kubectl --kubeconfig ${opts.kubeconfig}` : 'kubectl';
}
