import { expect } from 'chai';
import { InvalidOptionError } from '../../lib/errors.js';
import { FlagError, flagErrorLines, type FlagProblem } from '../../cli/flag-set.js';
import { delegatedAuthFlags, delegatedAuthOptionsFromFlags } from '../../lib/apiserver/flags.js';
import {
  parseCertsFlags,
  parseServeFlags,
  serveDefaults,
  serveFlags,
  serveUsage,
  type ServeOptions,
} from '../../cli/flags.js';

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

function flagProblemsOf(fn: () => unknown): readonly FlagProblem[] {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(FlagError);
    return (err as FlagError).flagProblems;
  }
  throw new Error('expected a FlagError');
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

  describe('rejected flags (every problem is reported: the flag, the cause, the fix)', () => {
    type Expected = readonly [flag: string, cause: string | RegExp, fix: string | RegExp];
    const cases: readonly { name: string; argv: readonly string[]; problems: readonly Expected[] }[] = [
      {
        name: 'unknown flag, with the closest flag as the fix',
        argv: ['--secure-prot=1'],
        problems: [['--secure-prot', 'unknown flag', 'did you mean --secure-port?']],
      },
      {
        name: 'unknown flag with nothing close: the fix is --help (filled in by the CLI)',
        argv: ['--zzzzzz'],
        problems: [['--zzzzzz', 'unknown flag', /^$/]],
      },
      { name: 'unknown shorthand', argv: ['-x'], problems: [['-x', 'unknown shorthand flag', /^$/]] },
      {
        name: 'missing argument',
        argv: ['--secure-port'],
        problems: [['--secure-port', 'flag needs an argument', '--secure-port=8443']],
      },
      {
        name: 'not an int',
        argv: ['--secure-port=https'],
        problems: [
          [
            '--secure-port',
            'invalid argument "https": strconv.ParseInt: parsing "https": invalid syntax',
            '--secure-port=8443',
          ],
        ],
      },
      {
        name: 'port out of range',
        argv: ['--secure-port=70000'],
        problems: [['--secure-port', 'must be between 0 and 65535, got 70000', /^--secure-port=8443 /]],
      },
      {
        name: 'bad duration',
        argv: ['--authentication-token-webhook-cache-ttl=10'],
        problems: [
          [
            '--authentication-token-webhook-cache-ttl',
            /^invalid argument "10": time: missing unit/,
            '--authentication-token-webhook-cache-ttl=10s',
          ],
        ],
      },
      {
        name: 'negative duration',
        argv: ['--authorization-webhook-cache-authorized-ttl=-1s'],
        problems: [
          [
            '--authorization-webhook-cache-authorized-ttl',
            'must not be negative',
            '--authorization-webhook-cache-authorized-ttl=10s (0 = no caching)',
          ],
        ],
      },
      {
        name: 'bad boolean',
        argv: ['--anonymous-auth=maybe'],
        problems: [
          [
            '--anonymous-auth',
            'invalid argument "maybe": strconv.ParseBool: parsing "maybe": invalid syntax',
            '--anonymous-auth=true or --anonymous-auth=false',
          ],
        ],
      },
      {
        name: 'empty value inside a list',
        argv: ['--requestheader-group-headers=X-Remote-Group,,X-Other'],
        problems: [['--requestheader-group-headers', 'must not contain an empty string', /empty entry/]],
      },
      {
        name: 'uid headers without the standard header',
        argv: ['--requestheader-uid-headers=X-Uid'],
        problems: [
          [
            '--requestheader-uid-headers',
            /without specifying the standard X-Remote-Uid header - API aggregation will not work$/,
            'add X-Remote-Uid to the list',
          ],
        ],
      },
      {
        name: 'star not at the end of an always-allow path',
        argv: ['--authorization-always-allow-paths=/a*b'],
        problems: [['--authorization-always-allow-paths', 'only a trailing * is allowed, got "/a*b"', /"\/a\*"/]],
      },
      {
        name: 'cert without key and a bind address that is not an IP',
        argv: ['--tls-cert-file=/a.crt', '--bind-address=localhost'],
        problems: [
          ['--bind-address', 'must be an IP address, got "localhost"', /^--bind-address=0\.0\.0\.0/],
          ['--tls-private-key-file', 'must be set together with --tls-cert-file', /give both/],
        ],
      },
      {
        name: 'stray positional',
        argv: ['extra'],
        problems: [['extra', 'unexpected argument (this command takes flags only)', /^drop it/]],
      },
      {
        name: 'all problems collected in argument order',
        argv: ['--nope', '--secure-port=x', '--anonymous-auth=2', '--authentication-token-webhook-cache-ttl=soon'],
        problems: [
          ['--nope', 'unknown flag', /^$/],
          ['--secure-port', /^invalid argument "x"/, '--secure-port=8443'],
          ['--anonymous-auth', /^invalid argument "2"/, /^--anonymous-auth=true/],
          ['--authentication-token-webhook-cache-ttl', /^invalid argument "soon": time: invalid duration/, /=10s$/],
        ],
      },
    ];
    const matches = (actual: string, want: string | RegExp) =>
      typeof want === 'string' ? expect(actual).to.equal(want) : expect(actual).to.match(want);
    for (const c of cases) {
      it(c.name, () => {
        const problems = flagProblemsOf(() => parseServeFlags(c.argv));
        expect(problems).to.have.length(c.problems.length, JSON.stringify(problems));
        c.problems.forEach(([flag, cause, fix], i) => {
          expect(problems[i]!.flag).to.equal(flag);
          matches(problems[i]!.cause, cause);
          matches(problems[i]!.fix ?? '', fix);
        });
      });
    }

    it('renders each problem as one line: error: <flag>: <cause>; fix: <fix> (--help when no better fix)', () => {
      let err: unknown;
      try {
        parseServeFlags(['--zzzzzz', '--secure-port=70000']);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(FlagError);
      expect(flagErrorLines(err as FlagError, 'serve')).to.deep.equal([
        "error: --zzzzzz: unknown flag; fix: run 'kube-delegated-auth serve --help' for the flags",
        'error: --secure-port: must be between 0 and 65535, got 70000; fix: --secure-port=8443 (0 = a free port the kernel picks)',
      ]);
    });
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
    // --secure-port 0 differs from Go (where 0 turns HTTPS serving off) and says so.
    expect(serveUsage).to.match(/--secure-port int +.*0 = a free port the kernel picks \(Go: 0 = do not serve HTTPS\)/);
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
      '--force: unknown flag',
      '--dir: must not be empty',
    ]);
  });
});

describe("serve's delegated authn/authz flags are the library's (kube-delegated-auth/apiserver)", () => {
  const kindOf = { string: 'string', bool: 'boolean', stringSlice: 'stringSlice', duration: 'duration' } as const;
  const listed = serveFlags.filter((f) => delegatedAuthFlags.some((d) => d.name === f.name));

  it('serve --help lists every library flag but --authorization-always-allow-groups, and no other delegated flag', () => {
    expect(listed.map((f) => f.name)).to.deep.equal(
      delegatedAuthFlags.map((d) => d.name).filter((n) => n !== 'authorization-always-allow-groups'),
    );
  });

  for (const def of delegatedAuthFlags.filter((d) => d.name !== 'authorization-always-allow-groups')) {
    it(`--${def.name}: the library's name, type, default and Go's help text, in --help and in parsing`, () => {
      const spec = serveFlags.find((f) => f.name === def.name);
      expect(spec, def.name).to.not.equal(undefined);
      expect(spec!.kind).to.equal(kindOf[def.type]);
      expect(spec!.help).to.equal(def.help);
      expect(spec!.defaultText).to.equal(def.defaultText);
      const line = serveUsage.split('\n').find((l) => l.includes(`--${def.name} `) || l.endsWith(`--${def.name}`));
      expect(line, def.name).to.be.a('string');
      expect(line).to.contain(def.help);
      if (def.defaultText !== undefined) expect(line).to.contain(`(default ${def.defaultText})`);
      // The same command line gives the same value as the library's own conversion.
      const args =
        def.type === 'bool'
          ? [`--${def.name}=false`]
          : def.type === 'duration'
            ? [`--${def.name}=1m30s`]
            : def.type === 'stringSlice'
              ? [`--${def.name}=x-remote-uid,"b,c"`, `--${def.name}`, 'x-remote-user,x-remote-group,x-remote-extra-']
              : [`--${def.name}=/etc/kda/${def.name}`];
      const fromLibrary = delegatedAuthOptionsFromFlags({
        [def.name]:
          def.type === 'stringSlice' ? [args[0]!.split('=').slice(1).join('='), args[2]!] : args[0]!.split('=')[1]!,
      });
      const key = def.option === 'anonymous' ? 'anonymousAuth' : def.option;
      const withTls = ['--tls-cert-file=/a.crt', '--tls-private-key-file=/a.key'];
      const { options } = parseServeFlags(
        def.name === 'authorization-always-allow-paths' ? args : [...args, ...withTls],
      );
      expect((options as unknown as Record<string, unknown>)[key], def.name).to.deep.equal(fromLibrary[def.option]);
    });
  }
});
