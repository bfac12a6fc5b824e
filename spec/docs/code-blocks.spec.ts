// Every code block in README.md and docs/ is checked, so the documentation cannot drift from the library:
// - a TypeScript block preceded by `<!-- example: examples/x.ts -->` must be that file (its leading `//` comment lines
//   aside), and the example itself is type-checked by `npm run typecheck` and run by a spec;
// - a TypeScript block preceded by `<!-- excerpt: examples/x.ts -->` must stand verbatim in that file;
// - every other TypeScript block is type-checked here, as a module of its own, with the repository's strict compiler
//   options and `kube-delegated-auth/*` resolved to lib/ (tsconfig.json `paths`). A block that shows a fragment may
//   declare what it assumes in a hidden prelude right above it, `<!-- ts-prelude\n…\n-->` (rustdoc's hidden lines);
// - JSON blocks parse; YAML blocks parse (every document);
// - shell blocks are valid bash (`bash -n`), every `npm run <script>` names a script of package.json, and every
//   `kube-delegated-auth <command> --flag` names a command and a flag the CLI defines.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { expect } from 'chai';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

const root = resolve(import.meta.dirname, '../..');

interface Block {
  page: string;
  line: number;
  lang: string;
  code: string;
  example?: string;
  excerpt?: string;
  prelude?: string;
}

function pages(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) return walk(p);
      return p.endsWith('.md') ? [p] : [];
    });
  return ['README.md', ...walk(join(root, 'docs')).map((p) => relative(root, p))];
}

/** The fenced blocks of one Markdown file, with the example/prelude markers right above each. */
export function blocksOf(page: string, text: string): Block[] {
  const lines = text.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j]!)) j++;
    const block: Block = { page, line: i + 1, lang: open[1]!.toLowerCase(), code: lines.slice(i + 1, j).join('\n') };
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === '') k--;
    const example = k >= 0 ? /^<!-- example: (\S+) -->$/.exec(lines[k]!.trim()) : null;
    if (example) block.example = example[1]!;
    const excerpt = k >= 0 ? /^<!-- excerpt: (\S+) -->$/.exec(lines[k]!.trim()) : null;
    if (excerpt) block.excerpt = excerpt[1]!;
    if (k >= 0 && lines[k]!.trim() === '-->') {
      let s = k - 1;
      while (s >= 0 && !lines[s]!.startsWith('<!-- ts-prelude')) s--;
      if (s >= 0) block.prelude = lines.slice(s + 1, k).join('\n');
    }
    out.push(block);
    i = j;
  }
  return out;
}

const all = pages().flatMap((p) => blocksOf(p, readFileSync(join(root, p), 'utf8')));
const where = (b: Block) => `${b.page}:${b.line}`;
const isTs = (b: Block) => ['ts', 'typescript'].includes(b.lang);

function typeCheck(blocks: readonly Block[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error('tsconfig.json did not parse');
  // Virtual files inside the repository, so node_modules and `paths` resolve as for a real file there.
  const virtual = new Map<string, Block>();
  blocks.forEach((b, i) => virtual.set(join(root, 'docs', `.block-${i}.ts`), b));
  const host = ts.createCompilerHost(config.options);
  const source = (b: Block) => `${b.prelude ? `${b.prelude}\n` : ''}${b.code}\nexport {};\n`;
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.readFile = (f) => (virtual.has(f) ? source(virtual.get(f)!) : read(f));
  host.fileExists = (f) => virtual.has(f) || exists(f);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (f, lang, ...rest) =>
    virtual.has(f) ? ts.createSourceFile(f, source(virtual.get(f)!), lang, true) : getSourceFile(f, lang, ...rest);
  const program = ts.createProgram(
    [...virtual.keys()],
    { ...config.options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false },
    host,
  );
  return [...virtual].flatMap(([file, b]) =>
    ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
      const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      const offset = b.prelude ? b.prelude.split('\n').length : 0;
      const line = pos ? `block line ${pos.line + 1 - offset}` : '';
      return `${where(b)} ${line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    }),
  );
}

/** Flags the CLI defines: every `'--name'`/`name: 'x'` literal in its sources (lib/cli or cli/). */
function cliSourceText(): string {
  const dirs = [
    'cli',
    'lib/cli',
    'lib/doctor',
    'lib/webhook',
    'lib/sample',
    'lib/conformance',
    'examples/sample-apiserver',
  ];
  const walk = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir).flatMap((n) => {
          const p = join(dir, n);
          return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [readFileSync(p, 'utf8')] : [];
        })
      : [];
  return dirs.flatMap((d) => walk(join(root, d))).join('\n');
}

function shellProblems(blocks: readonly Block[]): string[] {
  const scripts = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts);
  const cli = cliSourceText();
  const problems: string[] = [];
  for (const b of blocks.filter((x) => ['sh', 'bash', 'shell'].includes(x.lang))) {
    try {
      execFileSync('bash', ['-n'], { input: b.code, stdio: ['pipe', 'ignore', 'pipe'] });
    } catch (err) {
      problems.push(`${where(b)}: bash -n: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
    }
    const code = b.code.replace(/\\\n/g, ' ');
    for (const m of code.matchAll(/npm run (?:-s )?([\w:-]+)/g)) {
      if (!scripts.includes(m[1]!)) problems.push(`${where(b)}: npm run ${m[1]}: no such script`);
    }
    for (const line of code.split('\n')) {
      const cmd = /kube-delegated-auth (serve|certs|doctor|webhook|conformance)\b(.*)/.exec(line.replace(/#.*$/, ''));
      if (!cmd) continue;
      for (const f of cmd[2]!.matchAll(/(?:^|\s)--([a-z][a-z0-9-]*)/g)) {
        if (!cli.includes(`'${f[1]}'`) && !cli.includes(`--${f[1]}`))
          problems.push(`${where(b)}: kube-delegated-auth ${cmd[1]} --${f[1]}: the CLI defines no such flag`);
      }
    }
  }
  return problems;
}

/** GitHub's heading anchors of a Markdown text (outside fences). */
function anchorsOf(text: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const h = fence ? null : /^#+ (.*)$/.exec(line);
    if (h)
      out.add(
        h[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      );
  }
  return out;
}

/** Relative links (`[x](docs/y.md#z)`, `[x](#z)`) that name a missing file or heading. */
function brokenLinks(page: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.replace(/```[\s\S]*?```/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!;
    if (/^[a-z]+:/.test(target)) continue;
    const [file, anchor] = target.split('#') as [string, string | undefined];
    const path = file ? join(root, page, '..', file) : join(root, page);
    if (!existsSync(path)) {
      out.push(`${page}: ${target}: no such file`);
      continue;
    }
    if (anchor && path.endsWith('.md') && !anchorsOf(readFileSync(path, 'utf8')).has(anchor))
      out.push(`${page}: ${target}: no such heading`);
  }
  return out;
}

describe('docs: every code block of README.md and docs/ is checked', function () {
  this.timeout(120_000);

  it('finds the pages and their blocks (README is a front door of at most 300 lines)', () => {
    expect(pages().length).to.be.greaterThan(8);
    expect(all.filter(isTs).length).to.be.greaterThan(10);
    expect(readFileSync(join(root, 'README.md'), 'utf8').split('\n').length).to.be.at.most(300);
  });

  it('reads markers: an example block, a prelude, and a block without either (the parser itself)', () => {
    const md = [
      '<!-- example: examples/a.ts -->',
      '```ts',
      'a();',
      '```',
      '<!-- ts-prelude',
      'declare const b: () => void;',
      '-->',
      '```ts',
      'b();',
      '```',
      '```sh',
      'echo',
      '```',
    ].join('\n');
    const [a, b, c] = blocksOf('x.md', md);
    expect(a).to.include({ example: 'examples/a.ts', code: 'a();', line: 2 });
    expect(b).to.include({ prelude: 'declare const b: () => void;', code: 'b();' });
    expect(c).to.deep.equal({ page: 'x.md', line: 11, lang: 'sh', code: 'echo' });
  });

  it('an example block is its file, header comments aside', () => {
    const examples = all.filter((b) => b.example);
    expect(examples.length).to.be.greaterThan(1);
    for (const b of examples) {
      expect(existsSync(join(root, b.example!)), `${where(b)}: ${b.example} exists`).to.equal(true);
      const lines = readFileSync(join(root, b.example!), 'utf8').split('\n');
      const code = lines.slice(lines.findIndex((l) => !l.startsWith('//'))).join('\n');
      expect(b.code.trim(), `${where(b)} is ${b.example}`).to.equal(code.trim());
    }
  });

  it('an excerpt block stands verbatim in its file', () => {
    for (const b of all.filter((x) => x.excerpt)) {
      expect(existsSync(join(root, b.excerpt!)), `${where(b)}: ${b.excerpt} exists`).to.equal(true);
      expect(
        readFileSync(join(root, b.excerpt!), 'utf8'),
        `${where(b)}: ${b.excerpt} no longer contains it`,
      ).to.include(b.code);
    }
  });

  it('every other TypeScript block type-checks against lib/ (strict)', () => {
    const blocks = all.filter((b) => isTs(b) && !b.example && !b.excerpt);
    expect(typeCheck(blocks)).to.deep.equal([]);
  });

  it('the type check can fail: a block with a type error is reported with its page and line', () => {
    const errors = typeCheck([
      {
        page: 'x.md',
        line: 7,
        lang: 'ts',
        code: "import { delegatedAuth } from 'kube-delegated-auth/koa';\ndelegatedAuth(42);",
      },
    ]);
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(/^x\.md:7 block line 2: /);
  });

  it('every relative link names a file and heading that exist', () => {
    expect(pages().flatMap((p) => brokenLinks(p, readFileSync(join(root, p), 'utf8')))).to.deep.equal([]);
    expect(brokenLinks('README.md', '[a](docs/nope.md) [b](#nope) [c](https://x)')).to.deep.equal([
      'README.md: docs/nope.md: no such file',
      'README.md: #nope: no such heading',
    ]);
  });

  it('JSON and YAML blocks parse', () => {
    for (const b of all.filter((x) => x.lang === 'json')) {
      expect(() => JSON.parse(b.code), where(b)).to.not.throw();
    }
    for (const b of all.filter((x) => x.lang === 'yaml' || x.lang === 'yml')) {
      for (const doc of parseAllDocuments(b.code)) expect(doc.errors, where(b)).to.deep.equal([]);
    }
  });

  it('shell blocks are valid bash, name npm scripts that exist and CLI flags the CLI defines', () => {
    expect(shellProblems(all)).to.deep.equal([]);
  });

  it('the shell check can fail: bad syntax, an unknown npm script, an unknown flag', () => {
    const problems = shellProblems([
      {
        page: 'x.md',
        line: 3,
        lang: 'sh',
        code: 'npm run no-such-script\nnpx kube-delegated-auth serve --no-such-flag\nif then',
      },
    ]);
    expect(problems.join('\n'))
      .to.match(/bash -n/)
      .and.match(/no-such-script: no such script/)
      .and.match(/serve --no-such-flag/);
  });
});
