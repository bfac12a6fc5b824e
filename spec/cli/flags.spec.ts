import { expect } from 'chai';
import { InvalidOptionError } from '../../lib/errors.js';
import { readCsv } from '../../cli/flag-set.js';
import { parseCertsFlags, parseServeFlags, serveDefaults, serveUsage, type ServeOptions } from '../../cli/flags.js';

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).code).to.equal('ERR_KDA_INVALID_OPTION');
    return (err as InvalidOptionError).problems;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('parseServeFlags', () => {
  describe('accepted flags', () => {
    const cases: readonly { name: string; argv: readonly string[]; expect: Partial<ServeOptions> }[] = [
      { name: 'no flags gives the Go defaults', argv: [], expect: serveDefaults },
      { name: 'int with space', argv: ['--secure-port', '9443'], expect: { securePort: 9443 } },
      { name: 'int with equals, ephemeral port', argv: ['--secure-port=0'], expect: { securePort: 0 } },
      { name: 'bind address', argv: ['--bind-address=127.0.0.1'], expect: { bindAddress: '127.0.0.1' } },
      {
        name: 'tls pair',
        argv: ['--tls-cert-file', '/a.crt', '--tls-private-key-file=/a.key'],
        expect: { tlsCertFile: '/a.crt', tlsPrivateKeyFile: '/a.key' },
      },
      {
        name: 'comma-separated list replaces the default',
        argv: ['--requestheader-username-headers=X-Remote-User,X-User'],
        expect: { requestheaderUsernameHeaders: ['X-Remote-User', 'X-User'] },
      },
      {
        name: 'repeated list flag appends',
        argv: ['--requestheader-allowed-names=front-proxy-client', '--requestheader-allowed-names', 'aggregator,other'],
        expect: { requestheaderAllowedNames: ['front-proxy-client', 'aggregator', 'other'] },
      },
      {
        name: 'empty list value means an empty list (any CN)',
        argv: ['--requestheader-allowed-names='],
        expect: { requestheaderAllowedNames: [] },
      },
      {
        name: 'quoted CSV field keeps its comma',
        argv: ['--authorization-always-allow-paths=/healthz,"/a,b"'],
        expect: { authorizationAlwaysAllowPaths: ['/healthz', '/a,b'] },
      },
      {
        name: 'uid headers with the standard header',
        argv: ['--requestheader-uid-headers=X-Remote-Uid'],
        expect: { requestheaderUidHeaders: ['X-Remote-Uid'] },
      },
      {
        name: 'durations are Go strings, options are ms',
        argv: [
          '--authorization-webhook-cache-authorized-ttl=1m30s',
          '--authorization-webhook-cache-unauthorized-ttl',
          '500ms',
          '--authentication-token-webhook-cache-ttl=0',
        ],
        expect: {
          authorizationWebhookCacheAuthorizedTtl: 90_000,
          authorizationWebhookCacheUnauthorizedTtl: 500,
          authenticationTokenWebhookCacheTtl: 0,
        },
      },
      {
        name: 'bare boolean is true',
        argv: ['--authentication-skip-lookup'],
        expect: { authenticationSkipLookup: true },
      },
      { name: 'boolean =false (Go form)', argv: ['--anonymous-auth=false'], expect: { anonymousAuth: false } },
      { name: 'boolean =0', argv: ['--anonymous-auth=0'], expect: { anonymousAuth: false } },
      {
        name: 'boolean =True',
        argv: ['--authentication-tolerate-lookup-failure=True'],
        expect: { authenticationTolerateLookupFailure: true },
      },
      {
        name: 'kubeconfigs',
        argv: ['--kubeconfig=/k', '--authentication-kubeconfig=/a', '--authorization-kubeconfig=/z'],
        expect: { kubeconfig: '/k', authenticationKubeconfig: '/a', authorizationKubeconfig: '/z' },
      },
      {
        name: 'ca files, policy and cert dir',
        argv: ['--client-ca-file=/c', '--requestheader-client-ca-file=/f', '--policy-file=p.yaml', '--cert-dir=/tmp/x'],
        expect: { clientCaFile: '/c', requestheaderClientCaFile: '/f', policyFile: 'p.yaml', certDir: '/tmp/x' },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const { options } = parseServeFlags(c.argv);
        for (const [k, v] of Object.entries(c.expect)) {
          expect(options[k as keyof ServeOptions], k).to.deep.equal(v);
        }
      });
    }
  });

  describe('rejected flags (every problem is reported)', () => {
    const cases: readonly { name: string; argv: readonly string[]; problems: readonly (string | RegExp)[] }[] = [
      { name: 'unknown flag', argv: ['--secure-prot=1'], problems: ['unknown flag: --secure-prot'] },
      { name: 'unknown shorthand', argv: ['-x'], problems: ['unknown shorthand flag: -x'] },
      { name: 'missing argument', argv: ['--secure-port'], problems: ['flag needs an argument: --secure-port'] },
      {
        name: 'not an int',
        argv: ['--secure-port=https'],
        problems: [
          'invalid argument "https" for "--secure-port" flag: strconv.ParseInt: parsing "https": invalid syntax',
        ],
      },
      {
        name: 'port out of range',
        argv: ['--secure-port=70000'],
        problems: ['"securePort" (--secure-port) must be between 0 and 65535, got 70000'],
      },
      {
        name: 'bad duration',
        argv: ['--authentication-token-webhook-cache-ttl=10'],
        problems: [/^invalid argument "10" for "--authentication-token-webhook-cache-ttl" flag: time: missing unit/],
      },
      {
        name: 'negative duration',
        argv: ['--authorization-webhook-cache-authorized-ttl=-1s'],
        problems: [
          '"authorizationWebhookCacheAuthorizedTtl" (--authorization-webhook-cache-authorized-ttl) must not be negative',
        ],
      },
      {
        name: 'bad boolean',
        argv: ['--anonymous-auth=maybe'],
        problems: [
          'invalid argument "maybe" for "--anonymous-auth" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
        ],
      },
      {
        name: 'empty value inside a list',
        argv: ['--requestheader-group-headers=X-Remote-Group,,X-Other'],
        problems: ['"requestheaderGroupHeaders" (--requestheader-group-headers) must not contain an empty string'],
      },
      {
        name: 'uid headers without the standard header',
        argv: ['--requestheader-uid-headers=X-Uid'],
        problems: [/without specifying the standard X-Remote-Uid header - API aggregation will not work$/],
      },
      {
        name: 'star not at the end of an always-allow path',
        argv: ['--authorization-always-allow-paths=/a*b'],
        problems: [/only trailing \* allowed in "\/a\*b"$/],
      },
      {
        name: 'cert without key and a bind address that is not an IP',
        argv: ['--tls-cert-file=/a.crt', '--bind-address=localhost'],
        problems: [/"bindAddress" \(--bind-address\) must be an IP address/, /must be set together$/],
      },
      { name: 'stray positional', argv: ['extra'], problems: ['unexpected arguments: extra'] },
      {
        name: 'all problems collected in argument order',
        argv: ['--nope', '--secure-port=x', '--anonymous-auth=2', '--authentication-token-webhook-cache-ttl=soon'],
        problems: [
          'unknown flag: --nope',
          /^invalid argument "x" for "--secure-port"/,
          /^invalid argument "2" for "--anonymous-auth"/,
          /^invalid argument "soon" for "--authentication-token-webhook-cache-ttl" flag: time: invalid duration/,
        ],
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const problems = problemsOf(() => parseServeFlags(c.argv));
        expect(problems).to.have.length(c.problems.length, problems.join('\n'));
        c.problems.forEach((p, i) =>
          typeof p === 'string' ? expect(problems[i]).to.equal(p) : expect(problems[i]).to.match(p),
        );
      });
    }
  });

  it('warns (not fails) when the standard X-Remote-* headers are missing', () => {
    const { warnings } = parseServeFlags(['--requestheader-username-headers=X-User']);
    expect(warnings).to.deep.equal([
      '--requestheader-username-headers is set without specifying the standard X-Remote-User header - API aggregation will not work',
    ]);
    expect(parseServeFlags([]).warnings).to.deep.equal([]);
  });

  it('--help and -h are reported instead of failing, and the usage lists every flag', () => {
    expect(parseServeFlags(['--help']).help).to.equal(true);
    expect(parseServeFlags(['-h', '--bogus']).help).to.equal(true);
    for (const flag of [
      '--secure-port int',
      '--requestheader-allowed-names strings',
      '--anonymous-auth',
      '--cert-dir',
    ]) {
      expect(serveUsage).to.contain(flag);
    }
  });
});

describe('parseCertsFlags', () => {
  it('defaults to ./certs and parses SAN lists', () => {
    expect(parseCertsFlags([])).to.deep.include({ dir: 'certs', overwrite: false, dnsNames: [], ipAddresses: [] });
    expect(
      parseCertsFlags(['--dir', 'x', '--overwrite', '--dns-name=a.svc,b.svc', '--ip-address=10.0.0.1']),
    ).to.deep.include({
      dir: 'x',
      overwrite: true,
      dnsNames: ['a.svc', 'b.svc'],
      ipAddresses: ['10.0.0.1'],
    });
  });
  it('rejects unknown flags and empty --dir together', () => {
    expect(problemsOf(() => parseCertsFlags(['--dir=', '--force']))).to.deep.equal([
      'unknown flag: --force',
      '"dir" (--dir) must not be empty',
    ]);
  });
});

describe('readCsv (pflag StringSlice values)', () => {
  const cases: readonly { name: string; input: string; expect?: readonly string[]; error?: RegExp }[] = [
    { name: 'empty', input: '', expect: [] },
    { name: 'single', input: 'a', expect: ['a'] },
    { name: 'several', input: 'a,b,c', expect: ['a', 'b', 'c'] },
    { name: 'empty field kept', input: 'a,,b', expect: ['a', '', 'b'] },
    { name: 'quoted comma', input: '"a,b",c', expect: ['a,b', 'c'] },
    { name: 'escaped quote', input: '"say ""hi"""', expect: ['say "hi"'] },
    { name: 'unterminated quote', input: '"a', error: /quoted-field/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.error) expect(() => readCsv(c.input)).to.throw(c.error);
      else expect(readCsv(c.input)).to.deep.equal(c.expect);
    });
  }
});
