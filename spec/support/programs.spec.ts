// The specs' program runners, against real child processes (`node -e` programs): startListening takes the URL from a
// whole line only, and a program that exits or hangs first fails the start with its output and leaves nothing
// running; runToExit gives the exit code and both outputs, feeds stdin, and stops a program that outlives its time.
import { expect } from 'chai';
import { runToExit, startListening } from './programs.js';

/** A `node -e` program. */
const node = (program: string) => [process.execPath, ['-e', program]] as const;

describe('startListening (spec/support)', function () {
  this.timeout(20_000);

  it('resolves with the URL and port of a "listening on" line, pino JSON included; stop() gives the exit code', async () => {
    // The SIGTERM handler is in place before the line: a server says it listens once it is ready to be stopped.
    const p = await startListening(
      ...node(
        `process.on('SIGTERM', () => process.exit(7)); console.error('starting'); console.log(JSON.stringify({ msg: 'listening on https://127.0.0.1:40123' })); setInterval(() => {}, 1000);`,
      ),
    );
    expect(p.url).to.equal('https://127.0.0.1:40123');
    expect(p.port).to.equal(40123);
    expect(p.output()).to.include('starting');
    expect(await p.stop()).to.equal(7);
  });

  it('does not take a line split across writes half-read: waits for the line to end', async () => {
    const p = await startListening(
      ...node(
        `process.stdout.write('listening on https://127.0.0.1:4'); setTimeout(() => { process.stdout.write('0124/\\n'); setInterval(() => {}, 1000); }, 200);`,
      ),
    );
    expect(p.port).to.equal(40124);
    expect(p.url).to.equal('https://127.0.0.1:40124');
    await p.stop('SIGKILL');
  });

  it('a program that exits first: rejected with its exit code and output', async () => {
    const err = await startListening(...node(`console.error('bad flag --x'); process.exit(2)`), { name: 'prog' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/^prog exited with 2 before printing .*listening on/);
    expect(err?.message).to.include('bad flag --x');
  });

  it('a program that cannot be spawned: rejected, naming why', async () => {
    const err = await startListening('/nonexistent/kda-program', []).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/could not be spawned: .*ENOENT/);
  });

  it('a program that never says it listens: rejected after timeoutMs with its output, and killed', async () => {
    const err = await startListening(...node(`console.log('pid ' + process.pid); setInterval(() => {}, 1000);`), {
      timeoutMs: 500,
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/timed out after 500 ms waiting for .* to print/);
    const pid = Number(/pid (\d+)/.exec(err!.message)![1]);
    expect(() => process.kill(pid, 0)).to.throw(/ESRCH/);
  });

  it('waitForOutput waits for a later line; rejects when the program exits without it', async () => {
    const p = await startListening(
      ...node(
        `console.log('listening on https://localhost:40125'); setTimeout(() => { console.log('ready: 3 widgets'); process.exit(0); }, 100);`,
      ),
    );
    expect((await p.waitForOutput(/ready: (\d+) widgets/))[1]).to.equal('3');
    expect(await p.exited).to.equal(0);
    const err = await p.waitForOutput(/never printed/).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/exited with 0 before printing \/never printed\//);
  });
});

describe('runToExit (spec/support)', function () {
  this.timeout(20_000);

  it('a non-zero exit is a result: the code, stdout and stderr apart, stdin fed', async () => {
    const r = await runToExit(
      ...node(
        `let i = ''; process.stdin.on('data', (d) => (i += d)).on('end', () => { console.log('got ' + i); console.error('warn'); process.exit(3); });`,
      ),
      { stdin: 'abc' },
    );
    expect(r).to.deep.equal({ code: 3, stdout: 'got abc\n', stderr: 'warn\n' });
  });

  it('a program still running after timeoutMs is killed, and the run rejected with what it printed', async () => {
    const err = await runToExit(...node(`console.log('pid ' + process.pid); setInterval(() => {}, 1000);`), {
      timeoutMs: 500,
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/^still running after 500 ms:\npid \d+/);
  });

  it('a program that cannot be spawned: rejected with the spawn error', async () => {
    const err = await runToExit('/nonexistent/kda-program', []).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err?.code).to.equal('ENOENT');
  });
});
