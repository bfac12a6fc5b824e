// Bounded property runs in `npm test`; `npm run fuzz` (KDA_FUZZ_RUNS) multiplies them. KDA_FUZZ_SEED replays a failure
// (fast-check prints the seed and path of every counterexample).
import type { Parameters } from 'fast-check';

const envRuns = Number(process.env.KDA_FUZZ_RUNS);
const envSeed = process.env.KDA_FUZZ_SEED;

/**
 * fast-check parameters: `numRuns` is `defaultRuns` unless KDA_FUZZ_RUNS is set, which then scales every property
 * by KDA_FUZZ_RUNS / 200 (200 being the nominal bounded run), so cheap and expensive properties keep their ratio.
 */
export function fuzzParams<T>(defaultRuns: number, extra: Parameters<T> = {}): Parameters<T> {
  const numRuns =
    Number.isFinite(envRuns) && envRuns > 0 ? Math.max(1, Math.round((defaultRuns * envRuns) / 200)) : defaultRuns;
  return {
    numRuns,
    ...(envSeed !== undefined && envSeed !== '' && { seed: Number(envSeed) }),
    ...extra,
  };
}

/** Mocha timeout for a property doing `runs` cases of roughly `msPerRun` each. */
export function fuzzTimeout(defaultRuns: number, msPerRun: number): number {
  const runs = fuzzParams(defaultRuns).numRuns ?? defaultRuns;
  return 20_000 + runs * msPerRun;
}

/** `String.prototype.isWellFormed` (ES2024, not in this project's lib): no lone surrogate. */
export function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDFFF]/.test(s.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''));
}
