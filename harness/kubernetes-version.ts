// Which Kubernetes release the harness runs: one switch, `KDA_KUBERNETES_VERSION` (a minor: `1.37` or `1.20`),
// read by scripts/control-plane/install.sh, the harness, the e2e suite, conformance, bench, `npm run cluster` and
// the soak. Each release's binaries live in their own cache directory (`<cache>/k8s-<version>/bin`).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** A Kubernetes minor the harness can build and run. */
export type KubernetesMinor = '1.37' | '1.20';

export interface KubernetesRelease {
  /** `1.37`. */
  readonly minor: KubernetesMinor;
  /** The exact release built: `1.37.2`. */
  readonly version: string;
  /** Where it comes from, for logs and the README. */
  readonly source: string;
}

/** The releases scripts/control-plane/install.sh builds. The first is the default. */
export const kubernetesReleases: Readonly<Record<KubernetesMinor, KubernetesRelease>> = {
  '1.37': {
    minor: '1.37',
    version: '1.37.2',
    source: 'Go modules k8s.io/kubernetes v1.37.2, k8s.io/sample-apiserver v0.37.2, etcd v3.6.16 (harness/go)',
  },
  '1.20': {
    minor: '1.20',
    version: '1.20.2',
    source: "Debian's kubernetes source package (1.20.2, Debian's Go 1.19), etcd 3.4 from Debian",
  },
};

/** The minor used when `KDA_KUBERNETES_VERSION` is unset: the current release. */
export const defaultKubernetesMinor: KubernetesMinor = '1.37';

/**
 * The release selected by `KDA_KUBERNETES_VERSION` (or `minor`). Throws one line naming the variable and the
 * accepted values when it is something else.
 */
export function kubernetesRelease(minor: string | undefined = process.env.KDA_KUBERNETES_VERSION): KubernetesRelease {
  const m = minor === undefined || minor === '' ? defaultKubernetesMinor : minor;
  if (m in kubernetesReleases) return kubernetesReleases[m as KubernetesMinor];
  throw new Error(
    `KDA_KUBERNETES_VERSION=${m} is not supported; use one of ${Object.keys(kubernetesReleases).join(', ')}`,
  );
}

/** Cache root: `$KDA_CACHE_DIR`, default `~/.cache/kube-delegated-auth`. */
export function kubernetesCacheDir(): string {
  return process.env.KDA_CACHE_DIR ?? join(homedir(), '.cache', 'kube-delegated-auth');
}

/** `<cache>/k8s-<version>/bin` for `release` (default: the selected one). `$KDA_BIN_DIR` is NOT consulted here. */
export function kubernetesBinDir(release: KubernetesRelease = kubernetesRelease()): string {
  return join(kubernetesCacheDir(), `k8s-${release.version}`, 'bin');
}

/**
 * The kubectl the specs run: `$KDA_KUBECTL` if set, else the v1.37 kubectl scripts/control-plane/install.sh builds
 * (used against both releases: the machine's own kubectl may be anything, or a cloud SDK dispatcher). Throws a
 * one-line fix when it is missing.
 */
export function kubectlPath(): string {
  const fromEnv = process.env.KDA_KUBECTL;
  if (fromEnv) return fromEnv;
  const p = join(kubernetesBinDir(kubernetesReleases['1.37']), 'kubectl');
  if (!existsSync(p)) {
    throw new Error(`${p} missing; run \`KDA_KUBERNETES_VERSION=1.37 bash scripts/control-plane/install.sh\``);
  }
  return p;
}

/** A kube-apiserver's version as its `--version` prints it (`Kubernetes v1.37.2`). */
export interface KubeApiServerVersion {
  /** `v1.37.2`. */
  readonly gitVersion: string;
  readonly major: number;
  readonly minor: number;
}

/** Runs `<binDir>/kube-apiserver --version` and parses it. */
export function kubeApiServerVersion(binDir: string): KubeApiServerVersion {
  const out = execFileSync(join(binDir, 'kube-apiserver'), ['--version'], { encoding: 'utf8', timeout: 30_000 });
  const m = /Kubernetes (v(\d+)\.(\d+)\.\d+\S*)/.exec(out);
  if (!m) throw new Error(`${join(binDir, 'kube-apiserver')} --version printed ${JSON.stringify(out.trim())}`);
  return { gitVersion: m[1]!, major: Number(m[2]), minor: Number(m[3]) };
}
