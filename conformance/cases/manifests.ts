import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { runKubectl } from '../../harness/kubectl.js';
import { loadDeployManifests } from '../manifests.js';
import type { ConformanceCase, ConformanceContext } from '../types.js';

/**
 * kubectl on PATH (the one operators use; cluster mode drives the user's cluster) through the harness's runner, so
 * it gets a cache of this run's work directory, never `~/.kube/cache` (discovery there is kept per host:port, and a
 * local control plane's port may have belonged to another server).
 */
async function kubectl(ctx: ConformanceContext, args: readonly string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await runKubectl({ dir: ctx.workDir, kubeconfigPath: ctx.adminKubeconfigPath }, args, {
      binary: 'kubectl',
      timeoutMs: 60_000,
    });
    return { code: r.code ?? 1, out: `${r.stdout}${r.stderr}` };
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return { code: -1, out: 'kubectl not found' };
    throw err;
  }
}

function writeManifests(path: string, objs: readonly unknown[]): string {
  writeFileSync(path, objs.map((o) => YAML.stringify(o)).join('---\n'));
  return path;
}

/**
 * deploy/ targets supported Kubernetes: its PodDisruptionBudget is policy/v1 (GA in 1.21, the only version from 1.25).
 * A kube-apiserver older than 1.21 (the v1.20.2 harness on some machines) does not serve it; there the PDB is
 * validated as policy/v1beta1, whose schema for minAvailable + selector is the same.
 */
async function forServer<T extends Record<string, unknown>>(
  ctx: ConformanceContext,
  objs: readonly T[],
): Promise<{ objects: T[]; note: string }> {
  const policyV1 = await ctx.admin.request('GET', '/apis/policy/v1');
  if (policyV1.status === 200) return { objects: [...objs], note: '' };
  const objects = objs.map((o) =>
    o['kind'] === 'PodDisruptionBudget' && o['apiVersion'] === 'policy/v1' ? { ...o, apiVersion: 'policy/v1beta1' } : o,
  );
  return { objects, note: ' (server < 1.21: PodDisruptionBudget as policy/v1beta1)' };
}

export const manifestCases: readonly ConformanceCase[] = [
  {
    name: 'deploy/ manifests pass kubectl apply --dry-run=server (server-side validation), the unfilled caBundle does not',
    async run(ctx) {
      const { objects: rendered, note } = await forServer(ctx, await ctx.renderedManifests());
      const dir = join(ctx.workDir, 'rendered-deploy');
      mkdirSync(dir, { recursive: true });
      // A dry-run Namespace is not created, so the namespaced objects would fail with NotFound: create it for real,
      // as `kubectl apply -f deploy/` does when 00-namespace.yaml goes first.
      await ctx.admin.ensureNamespace(ctx.names.namespace);
      const file = writeManifests(join(dir, 'deploy.yaml'), rendered);
      const version = await kubectl(ctx, ['version', '--client', '-o', 'json']);
      if (version.code === -1) {
        // No kubectl: the same server-side validation through the REST API (dryRun=All).
        for (const obj of rendered) {
          const path = await ctx.admin.objectPath(obj as never, { collection: true });
          const res = await ctx.admin.request('POST', path, { body: obj, query: { dryRun: 'All' } });
          assert.ok(
            res.status === 201 || res.status === 200 || res.status === 409,
            `dryRun=All POST ${path}: HTTP ${res.status} ${res.text.slice(0, 300)}`,
          );
        }
        return `kubectl not installed; ${rendered.length} objects validated by POST ?dryRun=All${note}`;
      }
      const clientVersion = (
        JSON.parse(version.out.slice(version.out.indexOf('{'))) as {
          clientVersion?: { gitVersion?: string };
        }
      ).clientVersion?.gitVersion;
      const ok = await kubectl(ctx, ['apply', '--dry-run=server', '-f', file]);
      assert.equal(ok.code, 0, `kubectl apply --dry-run=server failed:\n${ok.out}`);
      const lines = ok.out.split('\n').filter((l) => /\(server dry run\)/.test(l));
      assert.equal(lines.length, rendered.length, `expected one "(server dry run)" line per object:\n${ok.out}`);

      // The shipped APIService placeholder must be rejected by the server, which shows the validation is real.
      const raw = loadDeployManifests().find((m) => m.kind === 'APIService')!;
      const bad = await kubectl(ctx, [
        'apply',
        '--dry-run=server',
        '-f',
        writeManifests(join(dir, 'unfilled.yaml'), [raw]),
      ]);
      assert.notEqual(bad.code, 0, `the unfilled caBundle placeholder passed server-side validation:\n${bad.out}`);
      assert.match(bad.out, /caBundle|illegal base64|invalid/i);
      return `kubectl ${clientVersion ?? '?'} against the server: ${lines.length} objects accepted; placeholder caBundle rejected${note}`;
    },
  },
];
