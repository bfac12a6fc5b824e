import { expect } from 'chai';
import { barChartSvg } from '../../bench/chart.js';
import type { ThroughputRow } from '../../bench/scenarios/types.js';

const row = (scenario: string, label: string, rps: number): ThroughputRow => ({
  scenario,
  label,
  rps,
  requests: 1,
  errors: 0,
  errorsByKind: {},
  durationMs: 1000,
  p50Ms: 1,
  p90Ms: 2,
  p99Ms: 3,
  maxMs: 4,
});

describe('bench/chart', () => {
  const svg = barChartSvg([row('bare-koa', 'bare <Koa> & co', 1000), row('full-stack-allow', 'full', 500)], {
    title: 'T',
    reference: { label: '0.85 × bare Koa', rps: 850 },
  });

  it('draws one bar per row, proportional to req/s', () => {
    const widths = [...svg.matchAll(/<rect x="\d+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths).to.have.length(2);
    expect(widths[0]! / widths[1]!).to.be.closeTo(2, 0.01);
  });

  it('escapes labels (it is hand-written XML)', () => {
    expect(svg).to.include('bare &lt;Koa&gt; &amp; co');
    expect(svg).not.to.include('<Koa>');
  });

  it('draws the reference line', () => {
    expect(svg).to.match(/<line [^>]*stroke-dasharray/);
    expect(svg).to.include('0.85 × bare Koa');
  });
});
