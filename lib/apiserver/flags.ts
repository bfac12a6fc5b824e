// The delegated authentication/authorization flags of Go's `RecommendedOptions.AddFlags` (DelegatingAuthenticationOptions,
// DelegatingAuthorizationOptions, CoreAPIOptions), as data a user's binary adds to its own parser, and the function
// that turns the parsed values into `delegatedAuth()` options. Names, types, defaults and help text are Go's.
import { delegatingDefaults } from '../defaults.js';
import type { DelegatedAuthOptions } from '../delegated-auth.js';
import { InvalidOptionError } from '../errors.js';
import { parseGoDuration } from '../util/duration.js';
import { formatFlagUsages, parseGoBool, parseStringSliceValue } from '../util/pflag-values.js';

/** pflag's value types: `stringSlice` takes repeats and comma-separated values; `duration` a Go duration (`10s`). */
export type DelegatedAuthFlagType = 'string' | 'bool' | 'stringSlice' | 'duration';

/** One flag: what a parser needs to define it and what `delegatedAuth()` option it sets. */
export interface DelegatedAuthFlag {
  /** Without dashes: `requestheader-client-ca-file`. */
  readonly name: string;
  readonly type: DelegatedAuthFlagType;
  /** The `delegatedAuth()` option it sets. */
  readonly option: keyof DelegatedAuthOptions;
  /** Go's default, as pflag prints it in --help (`10s`, `[x-remote-user]`); undefined when empty. */
  readonly defaultText?: string;
  /** Go's help text. */
  readonly help: string;
  /**
   * Where the flag comes from: `RecommendedOptions` (k8s.io/apiserver's delegating authn/authz and CoreAPI options),
   * `kube-apiserver` (`--anonymous-auth`, which the delegating options lack), or `kube-delegated-auth`
   * (`--authorization-always-allow-groups`: Go hard-codes system:masters and has no flag).
   */
  readonly origin: 'RecommendedOptions' | 'kube-apiserver' | 'kube-delegated-auth';
}

const list = (values: readonly string[]) => `[${values.join(',')}]`;
const seconds = (ms: number) => `${ms / 1000}s`;
const d = delegatingDefaults;

/** The flags, in the order Go's --help lists them (authentication, then authorization, then the core API). */
export const delegatedAuthFlags: readonly DelegatedAuthFlag[] = Object.freeze([
  {
    name: 'authentication-kubeconfig',
    type: 'string',
    option: 'authenticationKubeconfig',
    help: "kubeconfig file pointing at the 'core' kubernetes server with enough rights to create tokenreviews.authentication.k8s.io. This is optional. If empty, all token requests are considered to be anonymous and no client CA is looked up in the cluster.",
    origin: 'RecommendedOptions',
  },
  {
    name: 'authentication-token-webhook-cache-ttl',
    type: 'duration',
    option: 'authenticationTokenWebhookCacheTtl',
    defaultText: seconds(d.authenticationTokenWebhookCacheTtl),
    help: 'The duration to cache responses from the webhook token authenticator.',
    origin: 'RecommendedOptions',
  },
  {
    name: 'client-ca-file',
    type: 'string',
    option: 'clientCaFile',
    help: 'If set, any request presenting a client certificate signed by one of the authorities in the client-ca-file is authenticated with an identity corresponding to the CommonName of the client certificate.',
    origin: 'RecommendedOptions',
  },
  {
    name: 'requestheader-username-headers',
    type: 'stringSlice',
    option: 'requestheaderUsernameHeaders',
    defaultText: list(d.requestheaderUsernameHeaders),
    help: 'List of request headers to inspect for usernames. X-Remote-User is common.',
    origin: 'RecommendedOptions',
  },
  {
    name: 'requestheader-uid-headers',
    type: 'stringSlice',
    option: 'requestheaderUidHeaders',
    help: 'List of request headers to inspect for UIDs. X-Remote-Uid is suggested. Requires the RemoteRequestHeaderUID feature to be enabled.',
    origin: 'RecommendedOptions',
  },
  {
    name: 'requestheader-group-headers',
    type: 'stringSlice',
    option: 'requestheaderGroupHeaders',
    defaultText: list(d.requestheaderGroupHeaders),
    help: 'List of request headers to inspect for groups. X-Remote-Group is suggested.',
    origin: 'RecommendedOptions',
  },
  {
    name: 'requestheader-extra-headers-prefix',
    type: 'stringSlice',
    option: 'requestheaderExtraHeadersPrefix',
    defaultText: list(d.requestheaderExtraHeadersPrefix),
    help: 'List of request header prefixes to inspect. X-Remote-Extra- is suggested.',
    origin: 'RecommendedOptions',
  },
  {
    name: 'requestheader-client-ca-file',
    type: 'string',
    option: 'requestheaderClientCaFile',
    help: 'Root certificate bundle to use to verify client certificates on incoming requests before trusting usernames in headers specified by --requestheader-username-headers. WARNING: generally do not depend on authorization being already done for incoming requests.',
    origin: 'RecommendedOptions',
  },
  {
    name: 'requestheader-allowed-names',
    type: 'stringSlice',
    option: 'requestheaderAllowedNames',
    help: 'List of client certificate common names to allow to provide usernames in headers specified by --requestheader-username-headers. If empty, any client certificate validated by the authorities in --requestheader-client-ca-file is allowed.',
    origin: 'RecommendedOptions',
  },
  {
    name: 'authentication-skip-lookup',
    type: 'bool',
    option: 'authenticationSkipLookup',
    help: 'If false, the authentication-kubeconfig will be used to lookup missing authentication configuration from the cluster.',
    origin: 'RecommendedOptions',
  },
  {
    name: 'authentication-tolerate-lookup-failure',
    type: 'bool',
    option: 'authenticationTolerateLookupFailure',
    help: 'If true, failures to look up missing authentication configuration from the cluster are not considered fatal. Note that this can result in authentication that treats all requests as anonymous.',
    origin: 'RecommendedOptions',
  },
  {
    name: 'authorization-kubeconfig',
    type: 'string',
    option: 'authorizationKubeconfig',
    help: "kubeconfig file pointing at the 'core' kubernetes server with enough rights to create subjectaccessreviews.authorization.k8s.io. This is optional. If empty, all requests not skipped by authorization are forbidden.",
    origin: 'RecommendedOptions',
  },
  {
    name: 'authorization-webhook-cache-authorized-ttl',
    type: 'duration',
    option: 'authorizationWebhookCacheAuthorizedTtl',
    defaultText: seconds(d.authorizationWebhookCacheAuthorizedTtl),
    help: "The duration to cache 'authorized' responses from the webhook authorizer.",
    origin: 'RecommendedOptions',
  },
  {
    name: 'authorization-webhook-cache-unauthorized-ttl',
    type: 'duration',
    option: 'authorizationWebhookCacheUnauthorizedTtl',
    defaultText: seconds(d.authorizationWebhookCacheUnauthorizedTtl),
    help: "The duration to cache 'unauthorized' responses from the webhook authorizer.",
    origin: 'RecommendedOptions',
  },
  {
    name: 'authorization-always-allow-paths',
    type: 'stringSlice',
    option: 'authorizationAlwaysAllowPaths',
    defaultText: list(d.authorizationAlwaysAllowPaths),
    help: "A list of HTTP paths to skip during authorization, i.e. these are authorized without contacting the 'core' kubernetes server.",
    origin: 'RecommendedOptions',
  },
  {
    name: 'authorization-always-allow-groups',
    type: 'stringSlice',
    option: 'authorizationAlwaysAllowGroups',
    defaultText: list(d.authorizationAlwaysAllowGroups),
    help: "A list of groups allowed to do anything without contacting the 'core' kubernetes server (Go hard-codes system:masters).",
    origin: 'kube-delegated-auth',
  },
  {
    name: 'kubeconfig',
    type: 'string',
    option: 'kubeconfig',
    help: "kubeconfig file pointing at the 'core' kubernetes server.",
    origin: 'RecommendedOptions',
  },
  {
    name: 'anonymous-auth',
    type: 'bool',
    option: 'anonymous',
    defaultText: 'true',
    help: 'Enables anonymous requests to the secure port of the API server. Requests that are not rejected by another authentication method are treated as anonymous requests. Anonymous requests have a username of system:anonymous, and a group name of system:unauthenticated.',
    origin: 'kube-apiserver',
  },
] satisfies DelegatedAuthFlag[]);

/** A parsed value as parsers hand them over: strings, booleans, repeated strings; a number is milliseconds. */
export type FlagInputValue = string | boolean | number | readonly (string | boolean)[] | undefined | null;

/**
 * `util.parseArgs` option definitions for the flags (`string`/`boolean`, `multiple` for lists). No defaults are set
 * there, so `delegatedAuthOptionsFromFlags` sees only the flags given and `delegatedAuth()` applies Go's defaults.
 * Spread into your own: `parseArgs({ options: { ...delegatedAuthParseArgsOptions(), port: { type: 'string' } } })`.
 */
export function delegatedAuthParseArgsOptions(): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  return Object.fromEntries(
    delegatedAuthFlags.map((f) => [
      f.name,
      f.type === 'bool'
        ? { type: 'boolean' }
        : f.type === 'stringSlice'
          ? { type: 'string', multiple: true }
          : { type: 'string' },
    ]),
  );
}

/** `--requestheader-username-headers` → `requestheaderUsernameHeaders`, as commander and yargs key them. */
const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
/** pflag's wording: `invalid argument "x" for "--flag" flag: <cause>`. */
const invalid = (flag: string, value: unknown, cause: string) =>
  `invalid argument ${JSON.stringify(show(value))} for "--${flag}" flag: ${cause}`;

function convert(flag: DelegatedAuthFlag, value: Exclude<FlagInputValue, undefined | null>): unknown {
  switch (flag.type) {
    case 'string':
      if (typeof value !== 'string') throw new Error(invalid(flag.name, value, 'must be a string'));
      return value;
    case 'bool':
      if (typeof value === 'boolean') return value;
      try {
        if (typeof value === 'string') return parseGoBool(value);
      } catch (err) {
        throw new Error(invalid(flag.name, value, (err as Error).message), { cause: err });
      }
      throw new Error(
        invalid(flag.name, value, `strconv.ParseBool: parsing ${JSON.stringify(show(value))}: invalid syntax`),
      );
    case 'duration': {
      let ms: number;
      if (typeof value === 'number') ms = value;
      else if (typeof value === 'string') {
        try {
          ms = parseGoDuration(value);
        } catch (err) {
          throw new Error(invalid(flag.name, value, (err as Error).message), { cause: err });
        }
      } else throw new Error(invalid(flag.name, value, 'must be a duration such as 10s'));
      if (!Number.isFinite(ms) || ms < 0) throw new Error(invalid(flag.name, value, 'must not be negative'));
      return ms;
    }
    case 'stringSlice': {
      const parts: unknown[] | undefined =
        typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
      if (parts === undefined || !parts.every((p): p is string => typeof p === 'string')) {
        throw new Error(invalid(flag.name, value, 'must be a string or a list of strings'));
      }
      try {
        return parts.flatMap((p) => parseStringSliceValue(p));
      } catch (err) {
        throw new Error(invalid(flag.name, value, (err as Error).message));
      }
    }
  }
}

/**
 * Turns parsed flag values into `delegatedAuth()` options. `values` is keyed by flag name (`util.parseArgs`:
 * `requestheader-client-ca-file`) or by its camelCase (commander, yargs: `requestheaderClientCaFile`); keys that are
 * not delegated-auth flags (your own flags) are ignored, as are undefined values. Lists take repeats and
 * comma-separated values, durations Go's syntax (`10s`, `1m30s`) or a number of ms, booleans Go's spellings. Throws
 * one {@link InvalidOptionError} listing every bad value, each naming its flag in pflag's wording.
 */
export function delegatedAuthOptionsFromFlags(values: Readonly<Record<string, FlagInputValue>>): DelegatedAuthOptions {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const flag of delegatedAuthFlags) {
    const value = Object.hasOwn(values, flag.name) ? values[flag.name] : values[camel(flag.name)];
    if (value === undefined || value === null) continue;
    try {
      out[flag.option] = convert(flag, value);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length > 0) throw new InvalidOptionError(problems);
  return out as DelegatedAuthOptions;
}

/** pflag's type names in --help (a bool flag shows none). */
const typeNames: Readonly<Record<DelegatedAuthFlagType, string>> = {
  string: 'string',
  bool: '',
  stringSlice: 'strings',
  duration: 'duration',
};

/** The flags as Go's --help prints them (`--name type   help (default x)`), for your binary's usage text. */
export function formatDelegatedAuthFlags(): string {
  return formatFlagUsages(
    delegatedAuthFlags.map((f) => ({
      name: f.name,
      typeName: typeNames[f.type],
      usage: f.help,
      ...(f.defaultText !== undefined && { defaultText: f.defaultText }),
    })),
  );
}
