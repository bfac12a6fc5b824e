// Helpers shared by the metrics specs: exposition-text parsing, channel publishing, and fresh metrics objects that
// are closed after each test.
import { channel } from 'node:diagnostics_channel';
import { createMetrics, type KdaMetrics } from '../../lib/metrics/metrics.js';

/** `name{labels}` → value, from the exposition text. */
export function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

export const publish = (name: string, message: unknown): void => channel(name).publish(message);

export async function scrape(m: KdaMetrics): Promise<Map<string, number>> {
  return parse(await m.metrics());
}

/** `fresh(opts)` makes a metrics object that is closed after each test of the calling `describe`. */
export function freshMetrics(): (opts?: Parameters<typeof createMetrics>[0]) => KdaMetrics {
  const open: KdaMetrics[] = [];
  afterEach(async () => {
    for (const m of open.splice(0)) await m.close();
  });
  return (opts) => {
    const m = createMetrics(opts);
    open.push(m);
    return m;
  };
}
