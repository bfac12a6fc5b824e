import { KdaError } from '../errors.js';

/** Milliseconds per Go duration unit (Go accepts both the micro sign U+00B5 and Greek mu U+03BC). */
const unitMs: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  '\u00b5s': 1e-3,
  '\u03bcs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const maxDurationMs = 9_223_372_036_854;

const term = /^(\d*)(?:\.(\d*))?([^\d.]*)/;

/**
 * Go's `time.ParseDuration`, returning milliseconds (fractional below 1ms): `10s` → 10000, `1m30s` → 90000,
 * `1.5h`, `500ms`, `-2s`, `0`. The CLI accepts these for every `*-ttl` / timeout flag, as pflag's DurationVar does.
 * Throws `KdaError(ERR_KDA_INVALID_OPTION)` with Go's message `time: invalid duration "<s>"` (or `missing unit`).
 */
export function parseGoDuration(s: string): number {
  const orig = s;
  const invalid = (what = 'invalid duration') =>
    new KdaError('ERR_KDA_INVALID_OPTION', `time: ${what} ${JSON.stringify(orig)}`);
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0;
  while (s !== '') {
    const m = term.exec(s);
    const whole = m?.[1] ?? '';
    const frac = m?.[2];
    // Go requires a digit before or after the dot ("1.", ".5" are fine, "." is not).
    if (!m || (whole === '' && (frac === undefined || frac === ''))) throw invalid();
    const unit = m[3] ?? '';
    if (unit === '') throw invalid('missing unit in duration');
    const mult = unitMs[unit];
    if (mult === undefined)
      throw new KdaError(
        'ERR_KDA_INVALID_OPTION',
        `time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(orig)}`,
      );
    total += Number(`${whole || '0'}.${frac ?? ''}0`) * mult;
    s = s.slice(m[0].length);
  }
  // Go's Duration is an int64 of nanoseconds: about 292 years, i.e. 9_223_372_036_854 ms.
  if (total > maxDurationMs) throw invalid();
  return negative ? -total : total;
}

/** Formats milliseconds the way Go's `Duration.String()` does for whole milliseconds and above: `1m30s`, `500ms`, `0s`. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const sec = Number((rest / 1000).toFixed(9)).toString();
  if (h > 0) return `${sign}${h}h${m}m${sec}s`;
  if (m > 0) return `${sign}${m}m${sec}s`;
  return `${sign}${sec}s`;
}
