import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { main, type CliIo } from '../../cli/main.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

describe('cli main()', function () {
  this.timeout(20_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'kda-cli-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: readonly {
    name: string;
    argv: readonly string[];
    code: number;
    stdout?: RegExp;
    stderr?: RegExp[];
    /** Exactly this many stderr lines (one per problem). */
    stderrLines?: number;
  }[] = [
    { name: 'no command prints usage, exit 2', argv: [], code: 2, stdout: /Usage: kube-delegated-auth <command>/ },
    { name: '--help prints usage, exit 0', argv: ['--help'], code: 0, stdout: /Commands:\n {2}serve/ },
    {
      name: 'unknown command',
      argv: ['srve'],
      code: 2,
      stderr: [
        /^error: srve: unknown command; fix: one of serve, certs, doctor, conformance, webhook, --version or --help$/,
      ],
    },
    {
      name: 'serve --help lists the Go flags',
      argv: ['serve', '--help'],
      code: 0,
      stdout: /--requestheader-allowed-names strings/,
    },
    { name: 'certs --help', argv: ['certs', '-h'], code: 0, stdout: /--dir string/ },
    {
      name: 'serve with bad flags reports every problem, exit 2',
      argv: ['serve', '--secure-port=x', '--bogus', '--authorization-webhook-cache-authorized-ttl=5'],
      code: 2,
      stderr: [
        /^error: --secure-port: invalid argument "x": strconv\.ParseInt: .*; fix: --secure-port=8443$/,
        /^error: --bogus: unknown flag; fix: run 'kube-delegated-auth serve --help' for the flags$/,
        /^error: --authorization-webhook-cache-authorized-ttl: invalid argument "5": time: missing unit .*; fix: --authorization-webhook-cache-authorized-ttl=10s$/,
      ],
      stderrLines: 3,
    },
    {
      name: 'doctor with an unknown flag: usage error, exit 2',
      argv: ['doctor', '--bogus'],
      code: 2,
      stderr: [/^error: --bogus: unknown flag; fix: run 'kube-delegated-auth doctor --help' for the flags$/],
      stderrLines: 1,
    },
    {
      name: 'webhook with bad flags: one line per problem, the same shape',
      argv: ['webhook', '--secure-port=99999', '--token-auth-fle=x'],
      code: 2,
      stderr: [
        /^error: --token-auth-fle: unknown flag; fix: did you mean --token-auth-file\?$/,
        /^error: --secure-port: must be an integer in \[0, 65535\], got 99999; fix: --secure-port=8443$/,
        /^error: --tls-cert-file: required; fix: --tls-cert-file=<PEM file>/,
        /^error: --tls-private-key-file: required; fix: /,
        /^error: --token-auth-file: nothing to serve: .*; fix: give --token-auth-file and\/or --authorization-policy-file$/,
      ],
      stderrLines: 5,
    },
    {
      name: 'certs with a stray argument',
      argv: ['certs', 'mydir'],
      code: 2,
      stderr: [
        /^error: mydir: unexpected argument \(this command takes flags only\); fix: drop it, or give it to the flag it belongs to \(--flag mydir\)$/,
      ],
      stderrLines: 1,
    },
    {
      name: '--version prints the package version',
      argv: ['--version'],
      code: 0,
      stdout: new RegExp(`^kube-delegated-auth ${version.replace(/\./g, '\\.')}$`),
    },
    {
      name: 'a flag before the command',
      argv: ['--verbose', 'serve'],
      code: 2,
      stderr: [/^error: --verbose: unknown flag \(commands come first\); fix: one of serve, /],
      stderrLines: 1,
    },
    {
      name: 'doctor --help prints its usage',
      argv: ['doctor', '--help'],
      code: 0,
      stdout: /Usage: kube-delegated-auth doctor/,
    },
    { name: 'webhook --help prints its usage', argv: ['webhook', '--help'], code: 0 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const io = capture();
      expect(await main(c.argv, io)).to.equal(c.code);
      if (c.stdout) expect(io.stdout.join('\n')).to.match(c.stdout);
      if (c.stderr) {
        expect(io.stderr).to.have.length.of.at.least(c.stderr.length);
        c.stderr.forEach((re, i) => expect(io.stderr[i]).to.match(re));
      }
      if (c.stderrLines !== undefined) expect(io.stderr, io.stderr.join('\n')).to.have.length(c.stderrLines);
    });
  }

  it('certs --dir writes the dev PKI; a second run keeps it; --overwrite replaces it', async () => {
    const out = join(dir, 'pki');
    const io = capture();
    expect(await main(['certs', '--dir', out, '--dns-name=sample.example.svc'], io)).to.equal(0);
    expect(io.stdout[0]).to.equal(`wrote a development PKI to ${out}:`);
    const serving = new X509Certificate(readFileSync(join(out, 'serving.crt')));
    expect(serving.subjectAltName).to.contain('DNS:sample.example.svc');
    expect(serving.verify(new X509Certificate(readFileSync(join(out, 'serving-ca.crt'))).publicKey)).to.equal(true);
    const proxy = new X509Certificate(readFileSync(join(out, 'front-proxy-client.crt')));
    expect(proxy.subject).to.equal('CN=front-proxy-client');
    expect(statSync(join(out, 'alice.key')).mode & 0o077).to.equal(0, 'private keys are not group/world readable');
    expect(existsSync(join(out, 'admin.crt'))).to.equal(true);

    const again = capture();
    expect(await main(['certs', '--dir', out], again)).to.equal(0);
    expect(again.stdout[0]).to.match(/already exists/);
    expect(new X509Certificate(readFileSync(join(out, 'serving.crt'))).fingerprint256).to.equal(serving.fingerprint256);

    expect(await main(['certs', '--dir', out, '--overwrite'], capture())).to.equal(0);
    expect(new X509Certificate(readFileSync(join(out, 'serving.crt'))).fingerprint256).to.not.equal(
      serving.fingerprint256,
    );
  });
});
