import type { HeaderValues, LoadResult, LoadTls } from '../load.js';
import type { BenchPki } from '../pki.js';
import type { RunningServer, SpawnOptions } from '../spawn.js';
import type { ReviewPeer } from '../review-peer.js';
import type { BenchCluster } from '../cluster.js';

export interface BenchSettings {
  /** Measured phase per throughput scenario, ms. */
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly connections: number;
  /** Pin server and load generator to different cores. */
  readonly pin: boolean;
  /** Write CPU profiles of the servers here. */
  readonly profileDir?: string;
  /** Cap on the 100k-identity memory run (smaller in --quick). */
  readonly identities: number;
  /** Throughput cases are measured in this many interleaved slices (robust against noisy neighbours). */
  readonly rounds: number;
  /** CI smoke (--quick): short phases; the slow one-off measurements (package install) are skipped and say so. */
  readonly quick: boolean;
  /** Git ref whose import figures are measured as "before" (--before). */
  readonly beforeRef?: string;
}

/** One row of the req/s table. */
export interface ThroughputRow extends LoadResult {
  readonly scenario: string;
  readonly label: string;
  /** What the authorizer/authenticator talked to, when relevant. */
  readonly backend?: string;
  readonly notes?: string;
  /** Scenario name of the bare baseline this row is compared with (same framework, same TLS, same run). */
  readonly baseline?: string;
  /** Server-side counters accumulated over this case's measured slices (TLS connections, verifications). */
  readonly server?: Record<string, number>;
  /** Server CPU time (user+system) per request served, µs: the contention-resistant cost of one request. */
  readonly cpuUsPerRequest?: number;
}

/** One load shape against one running server; the runner measures all cases of a run in interleaved rounds. */
export interface ThroughputCase {
  readonly scenario: string;
  readonly label: string;
  readonly server: RunningServer;
  readonly tls: LoadTls;
  readonly path?: string;
  readonly headers?: HeaderValues | ((i: number) => HeaderValues);
  readonly expectStatus?: number;
  readonly newConnectionPerRequest?: boolean;
  readonly backend?: string;
  readonly notes?: string;
  /** Scenario name of the bare baseline of this case (ratio column). */
  readonly baseline?: string;
}

export interface PreparedThroughput {
  readonly cases: readonly ThroughputCase[];
  /** Derives findings (targets) from the measured rows of this run. */
  findings?(rows: readonly ThroughputRow[]): FindingRow[];
  close(): Promise<void>;
}

/** A non-throughput result (SAR counts, memory, per-connection cost) with a verdict against the target. */
export interface FindingRow {
  readonly scenario: string;
  readonly label: string;
  readonly target: string;
  readonly result: string;
  /** true/false against the target; null: reported only, or skipped (then `skipped` says why). */
  readonly pass: boolean | null;
  /** Not measured in this run, and why (missing binaries, --quick, ...). Never counted as a measurement. */
  readonly skipped?: string;
  readonly data: Record<string, unknown>;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
}

export interface ScenarioOutput {
  readonly throughput: ThroughputRow[];
  readonly findings: FindingRow[];
}

export interface BenchContext {
  readonly settings: BenchSettings;
  readonly pki: BenchPki;
  /** The real control plane, started lazily; undefined when the harness or binaries are unavailable. */
  cluster(): Promise<BenchCluster | undefined>;
  /** The in-process review peer (fallback SAR/TokenReview server), started lazily. */
  peer(): Promise<ReviewPeer>;
  spawnOptions(name: string): SpawnOptions;
  log(msg: string): void;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /**
   * Labels (prefixes) of the figures this scenario must report; the runner prints a NOT MEASURED line for each one
   * it did not produce, so a failed or skipped figure is never silently missing.
   */
  readonly reports?: readonly string[];
  /** Throughput scenario: start servers and describe the load; measured by the runner, interleaved with the others. */
  prepare?(ctx: BenchContext): Promise<PreparedThroughput>;
  /** Self-contained check (bursts, memory): runs alone after the throughput rounds. */
  run?(ctx: BenchContext): Promise<ScenarioOutput>;
}
