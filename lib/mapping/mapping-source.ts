import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { watchFiles } from '../trust/file-content.js';

/**
 * Where a mapping document comes from. `read` returns the current text or throws (missing file, deleted ConfigMap,
 * missing key); `watch` reports "may have changed" with no payload and returns an unsubscribe function.
 */
export interface MappingSource {
  /** For logs and status, e.g. `file:/etc/kda/mapping.yaml` or `configmap:kube-system/aws-auth#mapRoles`. */
  readonly name: string;
  read(signal?: AbortSignal): Promise<string>;
  watch?(onChange: () => void): () => void;
}

/**
 * A file, watched through its directory by the library's one file watcher (lib/trust `watchFiles`: atomic
 * rename-replacements and ConfigMap-volume `..data` symlink swaps are seen). IdentityMapping debounces the events
 * and polls on top, which covers filesystems where fs.watch is silent.
 */
export function fileMappingSource(path: string): MappingSource {
  const file = resolve(path);
  return {
    name: `file:${file}`,
    read: (signal) => readFile(file, { encoding: 'utf8', ...(signal ? { signal } : {}) }),
    // IdentityMapping owns the debounce and the polling (they apply to ConfigMap sources too).
    watch: (onChange) => watchFiles([file], onChange, { pollInterval: 0, debounce: 0 }),
  };
}

export interface ConfigMapMappingSourceOptions {
  /** `namespace/name`, for logs. */
  readonly configMap: string;
  /** The data key holding the document, e.g. `mapping.yaml`. */
  readonly key: string;
  /** Returns the ConfigMap's `data`, or undefined when the ConfigMap does not exist. Wire it to the cluster client. */
  readonly fetch: (signal?: AbortSignal) => Promise<Readonly<Record<string, string>> | undefined>;
  /** Calls `onChange` on every add/update/delete of the ConfigMap; returns an unsubscribe function. Optional. */
  readonly watch?: (onChange: () => void) => () => void;
}

/** A key of a ConfigMap, read through a caller-supplied `fetch` (and optional `watch`), e.g. from lib/cluster. */
export function configMapMappingSource(options: ConfigMapMappingSourceOptions): MappingSource {
  const { configMap, key, fetch } = options;
  if (typeof fetch !== 'function') throw new TypeError('fetch must be a function');
  const source: MappingSource = {
    name: `configmap:${configMap}#${key}`,
    async read(signal) {
      const data = await fetch(signal);
      // A deleted ConfigMap is an error, not an empty mapping: keep the last good one (kubernetes #140130).
      if (data === undefined) throw new Error(`ConfigMap ${configMap} not found`);
      const text = data[key];
      if (typeof text !== 'string') throw new Error(`ConfigMap ${configMap} has no key ${JSON.stringify(key)}`);
      return text;
    },
  };
  const w = options.watch;
  return w ? { ...source, watch: (onChange) => w(onChange) } : source;
}
