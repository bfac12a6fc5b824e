import type { ProbeResult } from './cases.js';

/** The outcome of one `conformance` run against one APIService. */
export interface ProbeReport {
  readonly apiService: string;
  /** How the backend was reached directly, or why it was not. */
  readonly backend: string;
  readonly runId: string;
  readonly results: readonly ProbeResult[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly durationMs: number;
  /** Objects the tool could not delete (one line each); empty when cleanup succeeded. */
  readonly cleanupProblems: readonly string[];
}

const label = { pass: 'pass', fail: 'FAIL', skip: 'skip' } as const;

/** One table line per case: outcome, name, rule, then the evidence and (on failure) the fix. */
export function formatTableLine(r: ProbeResult): string {
  const head = `${label[r.outcome].padEnd(4)}  ${r.name}`;
  const lines = [`${head}\n        rule: ${r.rule}\n        ${r.outcome === 'skip' ? 'skipped' : 'got'}: ${r.detail}`];
  if (r.hint) lines.push(`        fix: ${r.hint}`);
  return lines.join('\n');
}

export function formatSummary(report: ProbeReport): string {
  const total = report.results.length;
  const lines = [
    `conformance of ${report.apiService}: ${report.passed} passed, ${report.failed} FAILED, ${report.skipped} skipped of ${total} (a skip is not a pass) in ${(report.durationMs / 1000).toFixed(1)}s`,
  ];
  for (const p of report.cleanupProblems) lines.push(`cleanup: ${p}`);
  return lines.join('\n');
}

export function toJson(report: ProbeReport): string {
  return JSON.stringify(report, null, 2);
}

const xmlEscape = (s: string) =>
  s
    // XML 1.0 forbids most control characters even when escaped.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

/** JUnit XML: one testcase per case; failures carry evidence and fix, skips their reason. */
export function toJunit(report: ProbeReport): string {
  const cases = report.results.map((r) => {
    const open = `  <testcase classname="${xmlEscape(`conformance.${report.apiService}`)}" name="${xmlEscape(r.name)}" time="${(r.durationMs / 1000).toFixed(3)}">`;
    const inner =
      r.outcome === 'fail'
        ? `\n    <failure message="${xmlEscape(r.detail)}">${xmlEscape(`rule: ${r.rule}\nfix: ${r.hint ?? ''}`)}</failure>\n  `
        : r.outcome === 'skip'
          ? `\n    <skipped message="${xmlEscape(r.detail)}"/>\n  `
          : '';
    return `${open}${inner}</testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuite name="${xmlEscape(`kube-delegated-auth conformance ${report.apiService}`)}" tests="${report.results.length}" failures="${report.failed}" skipped="${report.skipped}" errors="0" time="${(report.durationMs / 1000).toFixed(3)}">`,
    ...cases,
    '</testsuite>',
    '',
  ].join('\n');
}
