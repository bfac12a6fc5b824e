import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory of this package's package.json. The CLI runs from its sources (`cli/x.ts`, one level down) and from
 * the build (`dist/cli/x.js`, two levels down), so it walks up instead of assuming a depth.
 */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readManifest(manifest).name === 'kube-delegated-auth') return dir;
    if (dirname(dir) === dir) throw new Error(`kube-delegated-auth: no package.json above ${from}`);
  }
}

/** The package's own package.json. */
export function readManifest(path = join(packageRoot(), 'package.json')): { name?: string; version?: string } {
  return JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
}
