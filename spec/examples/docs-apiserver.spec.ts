// docs/apiserver.md's code stays true: every TypeScript block is an excerpt, verbatim, of the file named in the
// `<!-- excerpt: <file> -->` line above it (files tsc checks and specs run); the flag table lists every flag.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { delegatedAuthFlags } from '../../lib/apiserver/index.js';

const doc = readFileSync('docs/apiserver.md', 'utf8');

describe('docs/apiserver.md', () => {
  it('every ts block is a verbatim excerpt of the type-checked file it names', () => {
    const blocks = [...doc.matchAll(/(?:<!-- excerpt: (\S+) -->\n)?```ts\n([\s\S]*?)```/g)];
    expect(blocks.length).to.be.greaterThan(8);
    for (const [, file, code] of blocks) {
      expect(file, `a ts block without an excerpt line:\n${code}`).to.be.a('string');
      expect(file).to.match(/^(examples|lib)\//);
      expect(readFileSync(file!, 'utf8'), `${file} no longer contains:\n${code}`).to.include(code);
    }
  });

  it('the flag table lists every flag with its default and option', () => {
    for (const f of delegatedAuthFlags) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`--${f.name}\` |`));
      expect(row, f.name).to.be.a('string');
      expect(row).to.include(`\`${f.option}\``);
      if (f.defaultText) expect(row).to.include(`\`${f.defaultText}\``);
    }
  });
});
