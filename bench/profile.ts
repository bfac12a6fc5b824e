// Summarises a V8 .cpuprofile: top functions by self time and self time per source file.
// Usage: npx tsx bench/profile.ts bench/results/profiles/koa [topN]   (a .cpuprofile file or a directory of them)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function summariseProfile(path: string, top = 30): string {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  const short = (url: string) =>
    url.replace(/^file:\/\/.*?\/(node_modules|lib|bench)\//, '$1/').replace(/^node:/, 'node:');
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const f = short(n.callFrame.url) || '(native/vm)';
    const key = `${n.callFrame.functionName || '(anonymous)'}  ${f}:${n.callFrame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const fk = n.callFrame.url ? f : n.callFrame.functionName || '(vm)';
    file.set(fk, (file.get(fk) ?? 0) + us);
  }
  // Inclusive time: every function on the sampled stack (once per sample) gets the sample's time.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (!n.callFrame.url.includes('/lib/') && !n.callFrame.url.includes('/bench/servers/')) continue;
      const key = `${n.callFrame.functionName || '(anonymous)'}  ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`total ${(total / 1e6).toFixed(2)} s sampled`, '', 'self time by function:'];
  for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  lines.push('', 'inclusive time of library functions (lib/, bench/servers/):');
  for (const [k, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  lines.push('', 'self time by file:');
  for (const [k, us] of [...file].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  return lines.join('\n');
}

/** The main-thread profile in a --cpu-prof directory: the one with the most non-idle samples (tsx's loader thread idles). */
export function mainThreadProfile(dir: string): string | undefined {
  let best: { file: string; samples: number } | undefined;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const file = join(dir, f);
    const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
    const busy = p.samples.filter((id) => !idle.has(id)).length;
    if (!best || busy > best.samples) best = { file, samples: busy };
  }
  return best?.file;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = process.argv[2]!;
  const file = statSync(arg).isDirectory() ? mainThreadProfile(arg) : arg;
  if (!file) throw new Error(`no .cpuprofile in ${arg}`);
  console.log(`${file}\n${summariseProfile(file, Number(process.argv[3] ?? 30))}`);
}
