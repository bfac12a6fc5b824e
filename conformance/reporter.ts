import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CaseResult, ConformanceMode } from './types.js';

/** The outcome of one run of the suite. */
export interface SuiteReport {
  readonly mode: ConformanceMode;
  readonly results: readonly CaseResult[];
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const firstLine = (s: string | undefined) => (s ?? '').split('\n')[0]!.trim();

/** One line per case: `PASS`, `FAIL` with the first line of the error, or `SKIP` with the reason. */
export function formatCaseLine(r: CaseResult): string {
  switch (r.outcome) {
    case 'passed':
      return `PASS  ${r.name} (${seconds(r.durationMs)})${r.detail ? ` - ${firstLine(r.detail)}` : ''}`;
    case 'failed':
      return `FAIL  ${r.name} (${seconds(r.durationMs)}): ${firstLine(r.error)}`;
    case 'skipped':
      return `SKIP  ${r.name}: ${firstLine(r.detail)}`;
  }
}

export function summarize(mode: ConformanceMode, results: readonly CaseResult[], startedAt: Date): SuiteReport {
  const count = (o: CaseResult['outcome']) => results.filter((r) => r.outcome === o).length;
  return {
    mode,
    results,
    startedAt,
    durationMs: Date.now() - startedAt.getTime(),
    passed: count('passed'),
    failed: count('failed'),
    skipped: count('skipped'),
  };
}

/** `conformance (local): 18 passed, 0 failed, 1 skipped of 19 cases in 95.2s`. */
export function formatSummary(report: SuiteReport): string {
  return (
    `conformance (${report.mode}): ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped ` +
    `of ${report.results.length} cases in ${seconds(report.durationMs)}`
  );
}

function xmlEscape(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // XML 1.0 forbids most control characters even when escaped.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  );
}

/** JUnit XML (the dialect Jenkins, GitLab and GitHub test reporters read): one testsuite, one testcase per case. */
export function junitXml(report: SuiteReport, suiteName = 'kube-delegated-auth conformance'): string {
  const name = `${suiteName} (${report.mode})`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlEscape(name)}" tests="${report.results.length}" failures="${report.failed}" skipped="${report.skipped}" time="${(report.durationMs / 1000).toFixed(3)}">`,
    `  <testsuite name="${xmlEscape(name)}" tests="${report.results.length}" failures="${report.failed}" errors="0" skipped="${report.skipped}" timestamp="${report.startedAt.toISOString()}" time="${(report.durationMs / 1000).toFixed(3)}">`,
  ];
  for (const r of report.results) {
    const open = `    <testcase classname="${xmlEscape(name)}" name="${xmlEscape(r.name)}" time="${(r.durationMs / 1000).toFixed(3)}"`;
    if (r.outcome === 'passed') {
      lines.push(r.detail ? `${open}>` : `${open}/>`);
      if (r.detail) {
        lines.push(`      <system-out>${xmlEscape(r.detail)}</system-out>`, '    </testcase>');
      }
    } else if (r.outcome === 'skipped') {
      lines.push(`${open}>`, `      <skipped message="${xmlEscape(firstLine(r.detail))}"/>`, '    </testcase>');
    } else {
      lines.push(
        `${open}>`,
        `      <failure message="${xmlEscape(firstLine(r.error))}" type="AssertionError">${xmlEscape(r.error ?? '')}</failure>`,
        '    </testcase>',
      );
    }
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

/** Writes the JUnit report, creating the directory. */
export function writeJunit(path: string, report: SuiteReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, junitXml(report));
}
