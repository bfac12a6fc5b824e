// UTCTime and GeneralizedTime as Go's x509 parser reads them (cryptobyte `ReadASN1UTCTime`/`ReadASN1GeneralizedTime`
// and Go's time.Parse range checks): whole seconds, `Z` or a numeric zone, real calendar dates, years 0-9999.
import type { Reader } from './der-reader.js';
import { Malformed, TAG_GENERALIZED_TIME, TAG_UTC_TIME } from './der-reader.js';

const digits = (s: string, from: number, n: number): number | undefined => {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x39)) return undefined;
    v = v * 10 + (c - 0x30);
  }
  return v;
};

function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** ms since epoch of a UTC calendar time (years 0-9999, unlike Date.UTC, which maps 0-99 to 1900-1999). */
function utcMillis(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, 0);
  return t.getTime();
}

/**
 * The time zone suffix Go's `Z0700` layout both parses and re-formats identically (cryptobyte re-serialises and
 * compares): `Z`, or `±hhmm` with hh ≤ 24, mm ≤ 59 and a non-zero offset (`+0000` formats back as `Z`). Returns the
 * offset in minutes, or undefined.
 */
function zoneOffset(s: string, at: number): number | undefined {
  if (s.length === at + 1 && s[at] === 'Z') return 0;
  if (s.length !== at + 5 || (s[at] !== '+' && s[at] !== '-')) return undefined;
  const hh = digits(s, at + 1, 2);
  const mm = digits(s, at + 3, 2);
  if (hh === undefined || mm === undefined || hh > 24 || mm > 59 || hh * 60 + mm === 0) return undefined;
  return (s[at] === '-' ? -1 : 1) * (hh * 60 + mm);
}

/** The calendar fields must name a real instant (Go's time.Parse range checks). */
function validClock(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(mo, y) && h <= 23 && mi <= 59 && s <= 59;
}

/**
 * cryptobyte's ReadASN1UTCTime: `YYMMDDhhmmssZ` (or without seconds), a `±hhmm` zone allowed, canonical as Go
 * re-formats it; YY 50-99 are 1950-1999.
 */
export function parseUtcTime(s: string): number | undefined {
  for (const withSeconds of [true, false]) {
    const n = withSeconds ? 12 : 10;
    if (s.length < n + 1) continue;
    const yy = digits(s, 0, 2);
    const mo = digits(s, 2, 2);
    const d = digits(s, 4, 2);
    const h = digits(s, 6, 2);
    const mi = digits(s, 8, 2);
    const sec = withSeconds ? digits(s, 10, 2) : 0;
    const zone = zoneOffset(s, n);
    if ([yy, mo, d, h, mi, sec, zone].includes(undefined)) continue;
    const year = yy! >= 50 ? 1900 + yy! : 2000 + yy!;
    if (!validClock(year, mo!, d!, h!, mi!, sec!)) continue;
    return utcMillis(year, mo!, d!, h!, mi!, sec!) - zone! * 60_000;
  }
  return undefined;
}

/**
 * cryptobyte's ReadASN1GeneralizedTime: `YYYYMMDDhhmmssZ` or with a `±hhmm` zone, canonical as Go re-formats it (Go's
 * layout has no fractional seconds: `20060102150405Z0700`).
 */
export function parseGeneralizedTime(s: string): number | undefined {
  if (s.length < 15) return undefined;
  const y = digits(s, 0, 4);
  const mo = digits(s, 4, 2);
  const d = digits(s, 6, 2);
  const h = digits(s, 8, 2);
  const mi = digits(s, 10, 2);
  const sec = digits(s, 12, 2);
  const zone = zoneOffset(s, 14);
  if ([y, mo, d, h, mi, sec, zone].includes(undefined)) return undefined;
  if (!validClock(y!, mo!, d!, h!, mi!, sec!)) return undefined;
  return utcMillis(y!, mo!, d!, h!, mi!, sec!) - zone! * 60_000;
}

/** Go's parseTime: a UTCTime or a GeneralizedTime, nothing else. */
export function readTime(r: Reader): number {
  const tag = r.peekTag();
  if (tag === TAG_UTC_TIME) {
    const t = parseUtcTime(r.bytes(r.read(TAG_UTC_TIME, 'x509: malformed UTCTime')).toString('latin1'));
    if (t === undefined) throw new Malformed('x509: malformed UTCTime');
    return t;
  }
  if (tag === TAG_GENERALIZED_TIME) {
    const raw = r.bytes(r.read(TAG_GENERALIZED_TIME, 'x509: malformed GeneralizedTime')).toString('latin1');
    const t = parseGeneralizedTime(raw);
    if (t === undefined) throw new Malformed('x509: malformed GeneralizedTime');
    return t;
  }
  throw new Malformed('x509: unsupported time format');
}
