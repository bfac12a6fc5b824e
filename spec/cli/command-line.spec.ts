// The scaffolding doctor and conformance share (cli/command-line.ts): --help first, every problem as one line with
// exit 2 before the command runs, and the command's own result otherwise.
import { expect } from 'chai';
import { runFlagsCommand, type FlagsCommand } from '../../cli/command-line.js';
import type { FlagSpec } from '../../cli/flag-set.js';

const flags: readonly FlagSpec[] = [
  { name: 'size', kind: 'int', help: 'a size' },
  { name: 'wait', kind: 'duration', help: 'a wait' },
  { name: 'help', short: 'h', kind: 'boolean', help: 'help' },
];

async function run(argv: string[]) {
  const usage: string[] = [];
  const errors: string[] = [];
  const ran: unknown[] = [];
  const command: FlagsCommand<{ size: number | undefined; wait: number | undefined }> = {
    name: 'demo',
    flags,
    usage: 'Usage: demo\n',
    check: ({ value, problems }) => {
      const size = value<number>('size');
      if (size !== undefined && size < 0)
        problems.push({ flag: '--size', cause: 'must not be negative', fix: '--size=1' });
      return { size, wait: value<number>('wait') };
    },
    run: async (checked) => {
      ran.push(checked);
      return 7;
    },
  };
  const code = await runFlagsCommand(command, argv, { usage: (t) => usage.push(t), errorLine: (l) => errors.push(l) });
  return { code, usage, errors, ran };
}

describe('cli/command-line runFlagsCommand', () => {
  it('runs the command with the checked values and returns its exit code', async () => {
    expect(await run(['--size', '3', '--wait=1m30s'])).to.deep.equal({
      code: 7,
      usage: [],
      errors: [],
      ran: [{ size: 3, wait: 90_000 }],
    });
  });

  it('--help wins over problems: the usage as it is, exit 0, nothing run', async () => {
    expect(await run(['--bogus', '-h', 'stray'])).to.deep.equal({
      code: 0,
      usage: ['Usage: demo\n'],
      errors: [],
      ran: [],
    });
  });

  it("every problem at once, pflag's, stray arguments and the command's own, one line each, exit 2, nothing run", async () => {
    const r = await run(['--wait', 'soon', 'stray', '--size=-1']);
    expect(r.code).to.equal(2);
    expect(r.ran).to.deep.equal([]);
    expect(r.errors).to.have.length(3);
    expect(r.errors[0]).to.match(/^error: --wait: invalid argument "soon": .*; fix: --wait=<duration/);
    expect(r.errors[1]).to.match(/^error: stray: unexpected argument/);
    expect(r.errors[2]).to.equal('error: --size: must not be negative; fix: --size=1');
  });
});
