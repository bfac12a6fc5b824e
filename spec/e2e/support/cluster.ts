// Mocha root hook plugin (loaded through `.mocharc.e2e.json` "require"): starts ONE etcd + kube-apiserver for
// the whole end-to-end run and stops it afterwards. Specs call `getCluster()`. Missing binaries fail the run
// (run `bash scripts/control-plane/install.sh`); the suite is never skipped silently.
import type { RootHookObject } from 'mocha';
import { startControlPlane, type ControlPlane } from '../../../harness/control-plane.js';
import { startGoSampleApiserver, type GoSampleApiserver } from '../../../harness/go-sample-apiserver.js';

let cluster: ControlPlane | undefined;
let sample: Promise<GoSampleApiserver> | undefined;

/** The control plane of this run. Throws outside the run (the root hook did not start it). */
export function getCluster(): ControlPlane {
  if (!cluster) throw new Error('no control plane: spec/e2e/support/cluster.ts must be loaded as a mocha root hook');
  return cluster;
}

/** The Go sample-apiserver behind `v1alpha1.wardle.example.com`, started on first use and shared by all specs. */
export function getGoSampleApiserver(): Promise<GoSampleApiserver> {
  sample ??= startGoSampleApiserver(getCluster());
  return sample;
}

export const mochaHooks: RootHookObject = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(240_000);
    const t0 = Date.now();
    cluster = await startControlPlane({ log: (m) => process.stderr.write(`[e2e] ${m}\n`) });
    process.stderr.write(`[e2e] control plane up in ${Date.now() - t0} ms (${cluster.dir})\n`);
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    const s = sample;
    sample = undefined;
    if (s) await (await s.catch(() => undefined))?.stop();
    await cluster?.stop();
    cluster = undefined;
  },
};
