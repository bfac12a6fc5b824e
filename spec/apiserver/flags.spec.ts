// The Go-named delegated authn/authz flags of kube-delegated-auth/apiserver: every flag parses with node:util
// parseArgs and maps to its delegatedAuth() option; bad values name the flag in pflag's words; defaults are
// lib/defaults.ts'. spec/examples/apiserver-blocks.spec.ts runs them through a real server.
import { parseArgs } from 'node:util';
import { expect } from 'chai';
import {
  delegatedAuthFlags,
  delegatedAuthOptionsFromFlags,
  delegatedAuthParseArgsOptions,
  formatDelegatedAuthFlags,
  type DelegatedAuthFlag,
} from '../../lib/apiserver/index.js';
import { delegatingDefaults } from '../../lib/defaults.js';
import { InvalidOptionError } from '../../lib/errors.js';

function parse(args: string[]) {
  return parseArgs({ args, options: delegatedAuthParseArgsOptions(), strict: true }).values;
}

/** A command line for one flag and the option value it must give. */
function sample(flag: DelegatedAuthFlag): { args: string[]; expected: unknown } {
  switch (flag.type) {
    case 'string':
      return { args: [`--${flag.name}`, `/etc/${flag.name}`], expected: `/etc/${flag.name}` };
    case 'bool':
      return { args: [`--${flag.name}`], expected: true };
    case 'duration':
      return { args: [`--${flag.name}`, '1m30s'], expected: 90_000 };
    case 'stringSlice':
      return { args: [`--${flag.name}`, 'a,b', `--${flag.name}=c`], expected: ['a', 'b', 'c'] };
  }
}

describe('apiserver/flags: Go-named delegated authn/authz flags', () => {
  it("has Go's RecommendedOptions flags for delegated authn/authz, each mapped to a distinct option", () => {
    const names = delegatedAuthFlags.map((f) => f.name);
    for (const goFlag of [
      'authentication-kubeconfig',
      'authentication-token-webhook-cache-ttl',
      'authentication-skip-lookup',
      'authentication-tolerate-lookup-failure',
      'client-ca-file',
      'requestheader-client-ca-file',
      'requestheader-allowed-names',
      'requestheader-username-headers',
      'requestheader-uid-headers',
      'requestheader-group-headers',
      'requestheader-extra-headers-prefix',
      'authorization-kubeconfig',
      'authorization-webhook-cache-authorized-ttl',
      'authorization-webhook-cache-unauthorized-ttl',
      'authorization-always-allow-paths',
      'kubeconfig',
    ]) {
      expect(names, goFlag).to.include(goFlag);
    }
    expect(new Set(names).size).to.equal(names.length);
    expect(new Set(delegatedAuthFlags.map((f) => f.option)).size).to.equal(names.length);
    expect(delegatedAuthFlags.every((f) => f.help.length > 20)).to.equal(true);
  });

  it('every flag, given on a command line parsed by util.parseArgs, sets its option (and only its option)', () => {
    for (const flag of delegatedAuthFlags) {
      const { args, expected } = sample(flag);
      const options = delegatedAuthOptionsFromFlags(parse(args));
      expect(options, flag.name).to.deep.equal({ [flag.option]: expected });
    }
  });

  it('all flags at once; flags not given stay unset so delegatedAuth() applies its defaults; other keys are ignored', () => {
    const args = delegatedAuthFlags.flatMap((f) => sample(f).args);
    const options = delegatedAuthOptionsFromFlags(parse(args)) as Record<string, unknown>;
    expect(Object.keys(options).sort()).to.deep.equal(delegatedAuthFlags.map((f) => f.option).sort());
    expect(delegatedAuthOptionsFromFlags({})).to.deep.equal({});
    expect(
      delegatedAuthOptionsFromFlags({ 'secure-port': '8443', verbose: true, 'client-ca-file': undefined }),
    ).to.deep.equal({});
  });

  it('takes camelCase keys too (commander, yargs) and values as such parsers give them', () => {
    const options = delegatedAuthOptionsFromFlags({
      requestheaderClientCaFile: '/ca.crt',
      requestheaderAllowedNames: 'front-proxy-client,aggregator',
      authenticationSkipLookup: 'true',
      authorizationWebhookCacheAuthorizedTtl: 2500,
      anonymousAuth: 'false',
    });
    expect(options).to.deep.equal({
      requestheaderClientCaFile: '/ca.crt',
      requestheaderAllowedNames: ['front-proxy-client', 'aggregator'],
      authenticationSkipLookup: true,
      authorizationWebhookCacheAuthorizedTtl: 2500,
      anonymous: false,
    });
  });

  it('reads lists as pflag does: repeats append, CSV with quotes, an empty value is an empty list', () => {
    const v = parse([
      '--requestheader-allowed-names',
      '"front,proxy",b',
      '--requestheader-allowed-names',
      'c',
      '--authorization-always-allow-paths=',
    ]);
    expect(delegatedAuthOptionsFromFlags(v)).to.deep.equal({
      requestheaderAllowedNames: ['front,proxy', 'b', 'c'],
      authorizationAlwaysAllowPaths: [],
    });
  });

  it("bad values: one InvalidOptionError listing each, naming the flag in pflag's wording", () => {
    let err: unknown;
    try {
      delegatedAuthOptionsFromFlags({
        'authorization-webhook-cache-authorized-ttl': '10x',
        'authentication-token-webhook-cache-ttl': '-5s',
        'authentication-skip-lookup': 'maybe',
        'requestheader-allowed-names': '"unterminated',
        'client-ca-file': ['a', 'b'],
        'authorization-always-allow-paths': [true],
      });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).problems).to.deep.equal([
      'invalid argument "-5s" for "--authentication-token-webhook-cache-ttl" flag: must not be negative',
      'invalid argument "[\\"a\\",\\"b\\"]" for "--client-ca-file" flag: must be a string',
      'invalid argument "\\"unterminated" for "--requestheader-allowed-names" flag: extraneous or missing " in quoted-field',
      'invalid argument "maybe" for "--authentication-skip-lookup" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
      'invalid argument "10x" for "--authorization-webhook-cache-authorized-ttl" flag: time: unknown unit "x" in duration "10x"',
      'invalid argument "[true]" for "--authorization-always-allow-paths" flag: must be a string or a list of strings',
    ]);
  });

  it("shows Go's defaults, taken from lib/defaults.ts", () => {
    const byName = new Map(delegatedAuthFlags.map((f) => [f.name, f]));
    expect(byName.get('authorization-always-allow-paths')?.defaultText).to.equal(
      `[${delegatingDefaults.authorizationAlwaysAllowPaths.join(',')}]`,
    );
    expect(byName.get('authorization-always-allow-paths')?.defaultText).to.equal('[/healthz,/readyz,/livez]');
    expect(byName.get('requestheader-username-headers')?.defaultText).to.equal('[x-remote-user]');
    expect(byName.get('authentication-token-webhook-cache-ttl')?.defaultText).to.equal('10s');
    expect(byName.get('authorization-always-allow-groups')?.defaultText).to.equal('[system:masters]');
    const help = formatDelegatedAuthFlags();
    for (const f of delegatedAuthFlags) expect(help).to.include(`--${f.name}`);
    expect(help).to.match(
      /--authorization-webhook-cache-authorized-ttl duration +The duration to cache 'authorized' responses from the webhook authorizer\. \(default 10s\)/,
    );
    expect(help).to.match(/--authentication-skip-lookup +If false/);
  });
});
