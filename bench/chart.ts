import type { ThroughputRow } from './scenarios/types.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface ChartOptions {
  readonly title: string;
  readonly subtitle?: string;
  /** Row whose req/s is drawn as a dashed reference line (e.g. bare Koa × 0.85). */
  readonly reference?: { readonly label: string; readonly rps: number };
}

/** A dependency-free horizontal bar chart of req/s (one bar per row) with p50/p99 in the labels. */
export function barChartSvg(rows: readonly ThroughputRow[], opts: ChartOptions): string {
  const width = 1000;
  const labelW = 390;
  const valueW = 290;
  const barArea = width - labelW - valueW - 20;
  const rowH = 28;
  const top = opts.subtitle ? 64 : 48;
  const height = top + rows.length * rowH + 36;
  const max = Math.max(1, ...rows.map((r) => r.rps), opts.reference?.rps ?? 0);
  const x = (v: number) => labelW + (v / max) * barArea;
  const colour = (r: ThroughputRow) =>
    r.scenario.startsWith('bare')
      ? '#8c8c8c'
      : r.scenario.startsWith('anchor')
        ? '#3b7dd8'
        : r.scenario.includes('connection')
          ? '#c98a2b'
          : '#2e9e5b';
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="26" font-size="16" font-weight="600" fill="#222">${esc(opts.title)}</text>`,
  );
  if (opts.subtitle) out.push(`<text x="16" y="46" fill="#666">${esc(opts.subtitle)}</text>`);
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, x(r.rps) - labelW);
    out.push(
      `<text x="${labelW - 8}" y="${y + 18}" text-anchor="end" fill="#222">${esc(r.label)}</text>`,
      `<rect x="${labelW}" y="${y + 5}" width="${w.toFixed(1)}" height="${rowH - 10}" rx="2" fill="${colour(r)}"><title>${esc(
        `${r.label}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`,
      )}</title></rect>`,
      `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 18}" fill="#222">${esc(
        `${Math.round(r.rps).toLocaleString('en-US')} req/s · p50 ${r.p50Ms.toFixed(2)} · p99 ${r.p99Ms.toFixed(2)} ms`,
      )}</text>`,
    );
  });
  if (opts.reference) {
    const rx = x(opts.reference.rps).toFixed(1);
    const bottom = top + rows.length * rowH;
    out.push(
      `<line x1="${rx}" y1="${top}" x2="${rx}" y2="${bottom}" stroke="#d33" stroke-dasharray="4 3"/>`,
      `<text x="${rx}" y="${bottom + 16}" text-anchor="middle" fill="#d33" font-size="12">${esc(opts.reference.label)}</text>`,
    );
  }
  out.push('</svg>', '');
  return out.join('\n');
}
