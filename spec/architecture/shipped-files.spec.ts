// What the npm package ships besides code: the LICENSE its `license` field names, and source maps that a reader
// (node --enable-source-maps, a debugger) can follow: lib/ is not in the package, so a map must carry its sources.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { expect } from 'chai';
import ts from 'typescript';

const buildConfigPath = resolve('tsconfig.build.json');

function buildOptions(): ts.CompilerOptions {
  const read = ts.readConfigFile(buildConfigPath, (p) => ts.sys.readFile(p));
  expect(read.error, 'tsconfig.build.json parses').to.equal(undefined);
  return ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(buildConfigPath), undefined, buildConfigPath)
    .options;
}

describe('architecture: shipped files', () => {
  it('LICENSE is the Apache-2.0 text package.json names, and is in "files"', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { license: string; files: string[] };
    expect(pkg.license).to.equal('Apache-2.0');
    expect(pkg.files).to.include('LICENSE');
    const text = readFileSync('LICENSE', 'utf8');
    expect(text).to.match(/^\s+Apache License\n\s+Version 2\.0, January 2004\n/);
    expect(text).to.contain('TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION');
    expect(text).to.contain('9. Accepting Warranty or Additional Liability.');
    expect(text).to.contain('END OF TERMS AND CONDITIONS');
  });

  it('the build emits no source map, or maps that carry their sources (lib/ is not shipped)', () => {
    const options = buildOptions();
    const emitsMaps = options.sourceMap === true || options.inlineSourceMap === true;
    if (emitsMaps) expect(options.inlineSources, 'inlineSources when maps are emitted').to.equal(true);
    // And the compiler does what the options say: a map of a real lib file, built with them, holds the source.
    const file = resolve('lib/util/go-quote.ts');
    const source = readFileSync(file, 'utf8');
    const out = ts.transpileModule(source, { compilerOptions: options, fileName: file });
    if (!emitsMaps) {
      expect(out.sourceMapText).to.equal(undefined);
      return;
    }
    const map = JSON.parse(out.sourceMapText!) as { sourcesContent?: (string | null)[] };
    expect(map.sourcesContent).to.deep.equal([source]);
  });
});
