import { randomBytes } from 'node:crypto';
import { KubeApiError, type RestClient } from 'kube-delegated-auth/cluster';

/** Label on every object the conformance tool creates; its value is the run id. */
export const runLabel = 'kube-delegated-auth.io/conformance-run';

/** A new run id: short, lowercase, valid in names and label values. */
export function newRunId(): string {
  return randomBytes(4).toString('hex');
}

/**
 * Creates labelled objects and remembers their paths so that `cleanup()` deletes every one of them (newest first),
 * also when the run is interrupted. Deleting an object that is already gone is not an error.
 */
export class ObjectTracker {
  readonly runId: string;
  readonly #client: RestClient;
  readonly #paths: string[] = [];
  #cleaned: Promise<string[]> | undefined;

  constructor(client: RestClient, runId: string) {
    this.#client = client;
    this.runId = runId;
  }

  /** Names objects of this run: `kda-conformance-<run>-<suffix>`. */
  name(suffix: string): string {
    return `kda-conformance-${this.runId}-${suffix}`;
  }

  /** Creates `obj` (labelled with the run) in `collectionPath`; records its path before the call returns. */
  async create<T>(collectionPath: string, obj: Record<string, unknown>): Promise<T> {
    const meta = (obj.metadata ?? {}) as { name: string; labels?: Record<string, string> };
    const labelled = { ...obj, metadata: { ...meta, labels: { ...meta.labels, [runLabel]: this.runId } } };
    const path = `${collectionPath}/${meta.name}`;
    this.#paths.push(path);
    try {
      return await this.#client.post<T>(collectionPath, labelled);
    } catch (err) {
      // A refused create (403 forbidden, 422 invalid, …) made nothing to delete; on timeouts it may have.
      const status = err instanceof KubeApiError ? err.statusCode : undefined;
      if (status !== undefined && status >= 400 && status < 500 && status !== 409) {
        this.#paths.splice(this.#paths.indexOf(path), 1);
      }
      throw err;
    }
  }

  /** Paths of the objects created so far. */
  get created(): readonly string[] {
    return [...this.#paths];
  }

  /** Deletes everything created, newest first; resolves to the problems (one line each). Runs once. */
  cleanup(): Promise<string[]> {
    this.#cleaned ??= (async () => {
      const problems: string[] = [];
      for (const path of [...this.#paths].reverse()) {
        try {
          await this.#client.request('DELETE', path, { timeout: 10_000 });
        } catch (err) {
          if (err instanceof KubeApiError && err.statusCode === 404) continue;
          problems.push(`could not delete ${path}: ${(err as Error).message}`);
        }
      }
      return problems;
    })();
    return this.#cleaned;
  }
}
