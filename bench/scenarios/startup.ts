import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { devPkiFiles } from '../../lib/dev-pki/index.js';
import { processRssBytes } from '../proc.js';
import type { BenchContext, FindingRow, Scenario } from './types.js';

/** Every public entry point of package.json `exports` (the list). */
export const entryPoints = [
  '.',
  './koa',
  './express',
  './fastify',
  './node-http',
  './cluster',
  './server',
  './metrics',
  './webhook',
  './doctor',
  './pino',
  './dev-pki',
  './apiserver',
  './startup',
] as const;
export const importFindingLabel = (entry: string) => `import kube-delegated-auth${entry === '.' ? '' : entry.slice(1)}`;
export const serveStartFindingLabel = 'start `kube-delegated-auth serve` until /readyz is ok';
export const installedSizeFindingLabel = 'installed size with required dependencies only';

const root = fileURLToPath(new URL('../../', import.meta.url));
const mib = (n: number) => n / 2 ** 20;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Builds `lib/` into `<dir>/dist` (the package's `exports`), then the programs (`cli/`, the sample) against it when the
 * tree has them apart (`tsconfig.cli.json`), as `npm run build` / `npm pack` do.
 */
function build(dir: string): void {
  for (const config of ['tsconfig.build.json', 'tsconfig.cli.json']) {
    if (!existsSync(join(dir, config))) continue;
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, config)], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
}

interface ImportFigure {
  readonly ms: number;
  readonly rssBytes: number;
}

/**
 * Imports `kube-delegated-auth<entry>` in a fresh `node` (built JavaScript, no tsx) from inside the package `dir`
 * (package self-reference resolves `exports` to dist/), `runs` times: median import time and RSS after the import.
 */
function measureImport(dir: string, entry: string, runs: number): ImportFigure | string {
  const spec = entry.startsWith('node:')
    ? entry
    : entry === '.'
      ? 'kube-delegated-auth'
      : `kube-delegated-auth${entry.slice(1)}`;
  const script = `const t=performance.now();await import(${JSON.stringify(spec)});const ms=performance.now()-t;console.log(JSON.stringify({ms,rss:process.memoryUsage().rss}))`;
  const figures: { ms: number; rss: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    if (r.status !== 0) {
      if (r.stderr.includes('ERR_PACKAGE_PATH_NOT_EXPORTED')) return 'no such entry point in this version';
      return (r.stderr.split('\n').find((l) => /Error/.test(l)) ?? `exit ${r.status}`).slice(0, 160);
    }
    figures.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; rss: number });
  }
  return { ms: median(figures.map((f) => f.ms)), rssBytes: median(figures.map((f) => f.rss)) };
}

/** `node dist/cli/main.js serve` in standalone mode (dev PKI already in --cert-dir), spawn → first /readyz 200. */
async function measureServeStart(dir: string): Promise<{ ms: number; rssBytes: number | undefined }> {
  const certDir = mkdtempSync(join(tmpdir(), 'kda-bench-serve-'));
  const start = async () => {
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [
        join(dir, 'dist/cli/main.js'),
        'serve',
        '--secure-port',
        '0',
        '--bind-address',
        '127.0.0.1',
        '--cert-dir',
        certDir,
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'], env: { PATH: process.env.PATH ?? '', HOME: certDir } },
    );
    try {
      let out = '';
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString('utf8');
          const m = /listening on https:\/\/[^\s]*:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      const agent = new Agent({ connect: { ca: readFileSync(join(certDir, devPkiFiles.servingCa)) } });
      try {
        for (;;) {
          const r = await request(`https://localhost:${port}/readyz`, { dispatcher: agent }).catch(() => undefined);
          await r?.body.dump();
          if (r?.statusCode === 200) break;
          if (performance.now() - t0 > 60_000) throw new Error('serve: /readyz not ok within 60 s');
          await new Promise((res) => setImmediate(res));
        }
      } finally {
        await agent.close();
      }
      return { ms: performance.now() - t0, rssBytes: processRssBytes(child.pid!) };
    } finally {
      child.kill('SIGKILL');
    }
  };
  try {
    await start(); // first start writes the dev PKI (RSA keys); a restart is what is timed
    return await start();
  } finally {
    rmSync(certDir, { recursive: true, force: true });
  }
}

/** npm pack + install into an empty project with `--omit=dev --omit=peer --omit=optional`; `du` of node_modules. */
function installedSize(log: (m: string) => void): { bytes: number; packages: number; tarball: number } {
  const tmp = mkdtempSync(join(tmpdir(), 'kda-bench-install-'));
  try {
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [packed] = JSON.parse(out) as { filename: string; size: number }[];
    const project = join(tmp, 'project');
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), '{"name":"kda-size-probe","version":"0.0.0","private":true}\n');
    log(`  npm install ${packed!.filename} --omit=dev --omit=peer --omit=optional (registry: npm's own config)`);
    execFileSync(
      'npm',
      [
        'install',
        '--omit=dev',
        '--omit=peer',
        '--omit=optional',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        join(tmp, packed!.filename),
      ],
      { cwd: project, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const bytes = Number(
      execFileSync('du', ['-sb', join(project, 'node_modules')], { encoding: 'utf8' }).split('\t')[0],
    );
    // Every installed package (the root project excluded), nested ones included.
    const packages =
      execFileSync('npm', ['ls', '--all', '--parseable'], { cwd: project, encoding: 'utf8' }).trim().split('\n')
        .length - 1;
    return { bytes, packages, tarball: packed!.size };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A git worktree of `ref` in /tmp with this checkout's node_modules, built: the "before" of the import figures. */
function beforeTree(ref: string, log: (m: string) => void): { dir: string; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'kda-bench-before-'));
  rmSync(dir, { recursive: true, force: true });
  execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: root, stdio: 'ignore' });
  const close = () => {
    execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: root, stdio: 'ignore' });
  };
  try {
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    log(`  building ${ref} in ${dir} (before)...`);
    build(dir);
    return { dir, close };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * Import time and RSS of every entry point (built JavaScript in a fresh node, median of 3 runs), `serve`'s start-up
 * until /readyz, and the installed size with only the required dependencies. With `--before <git ref>`, the import
 * figures of that commit too (built in a temporary git worktree).
 */
export const startup: Scenario = {
  name: 'startup',
  reports: [...entryPoints.map(importFindingLabel), serveStartFindingLabel, installedSizeFindingLabel],
  description: 'import time/RSS of every entry point, `serve` start-up until /readyz, installed size',
  async run(ctx: BenchContext) {
    const runs = ctx.settings.quick ? 1 : 3;
    ctx.log('  building dist/ (tsc -p tsconfig.build.json, then tsconfig.cli.json)...');
    build(root);
    let before: ReturnType<typeof beforeTree> | undefined;
    let beforeError: string | undefined;
    if (ctx.settings.beforeRef) {
      try {
        before = beforeTree(ctx.settings.beforeRef, ctx.log);
      } catch (err) {
        beforeError = `could not build ${ctx.settings.beforeRef}: ${(err as Error).message.split('\n')[0]}`;
        ctx.log(`  ${beforeError}`);
      }
    }
    const findings: FindingRow[] = [];
    /** A reported figure of this scenario (`pass: null`, no target to meet). */
    const reported = (label: string, result: string, data: Record<string, unknown>) =>
      findings.push({ scenario: 'startup', label, target: 'report', result, pass: null, data });
    /** A figure this run could not take: FAILED (pass false), or SKIPPED with why (never counted as measured). */
    const notTaken = (label: string, how: 'FAILED' | 'SKIPPED', why: string) =>
      findings.push({
        scenario: 'startup',
        label,
        target: 'report',
        result: `${how}: ${why}`,
        pass: how === 'FAILED' ? false : null,
        ...(how === 'SKIPPED' && { skipped: why }),
        data: {},
      });
    try {
      // What a fresh node process takes anyway (importing a built-in): the floor of every RSS figure below.
      const floor = measureImport(root, 'node:path', runs);
      const floorText = typeof floor === 'string' ? '' : ` (node alone: ${mib(floor.rssBytes).toFixed(1)} MiB)`;
      for (const entry of entryPoints) {
        const after = measureImport(root, entry, runs);
        const b = before ? measureImport(before.dir, entry, runs) : undefined;
        const fmt = (f: ImportFigure | string | undefined) =>
          f === undefined
            ? undefined
            : typeof f === 'string'
              ? `not importable (${f})`
              : `${f.ms.toFixed(0)} ms, RSS ${mib(f.rssBytes).toFixed(1)} MiB`;
        const result =
          `${fmt(after)}${floorText}` +
          (b !== undefined
            ? `; before (${ctx.settings.beforeRef}): ${fmt(b)}`
            : beforeError
              ? `; before: not measured (${beforeError})`
              : '; before: not measured (pass --before <git ref>)');
        ctx.log(`  ${importFindingLabel(entry).padEnd(40)} ${result}`);
        findings.push({
          scenario: 'startup',
          label: importFindingLabel(entry),
          target: 'report, before/after',
          result,
          pass: typeof after === 'string' ? false : null,
          data: { after, ...(b !== undefined && { before: b, beforeRef: ctx.settings.beforeRef }) },
        });
      }
      try {
        const s = await measureServeStart(root);
        const result = `${s.ms.toFixed(0)} ms (standalone mode, dev PKI already written), RSS ${s.rssBytes ? mib(s.rssBytes).toFixed(1) : '–'} MiB`;
        ctx.log(`  ${serveStartFindingLabel}: ${result}`);
        reported(serveStartFindingLabel, result, s);
      } catch (err) {
        notTaken(serveStartFindingLabel, 'FAILED', (err as Error).message);
      }
      if (ctx.settings.quick) {
        notTaken(installedSizeFindingLabel, 'SKIPPED', 'skipped in --quick (npm pack + npm install)');
      } else {
        try {
          const s = installedSize(ctx.log);
          const result = `${mib(s.bytes).toFixed(1)} MiB in node_modules (${s.packages} packages; tarball ${(s.tarball / 1024).toFixed(0)} KiB)`;
          ctx.log(`  ${installedSizeFindingLabel}: ${result}`);
          reported(installedSizeFindingLabel, result, s);
        } catch (err) {
          notTaken(
            installedSizeFindingLabel,
            'SKIPPED',
            `npm pack/install failed: ${(err as Error).message.split('\n')[0]}`,
          );
        }
      }
    } finally {
      before?.close();
    }
    return { throughput: [], findings };
  },
};
