import type { RequestHeaderConfig } from '../trust/interfaces.js';

/** The header names a front-proxy configuration reads, lower-cased once per configuration object. */
export interface RequestHeaderNames {
  /** Username, then uid, then group headers: lower-case, non-empty, first occurrence kept. */
  readonly named: readonly string[];
  readonly namedSet: ReadonlySet<string>;
  /** Non-empty extra prefixes, lower-case, in configuration order. */
  readonly prefixes: readonly string[];
}

interface Entry extends RequestHeaderNames {
  // The arrays the entry was computed from: a configuration whose lists were swapped or grown is recomputed.
  readonly from: readonly (readonly string[])[];
  readonly lengths: readonly number[];
}

const byConfig = new WeakMap<RequestHeaderConfig, Entry>();

function lists(config: RequestHeaderConfig): readonly (readonly string[])[] {
  return [config.usernameHeaders, config.uidHeaders, config.groupHeaders, config.extraHeaderPrefixes];
}

function fresh(entry: Entry, config: RequestHeaderConfig): boolean {
  const { from, lengths } = entry;
  return (
    from[0] === config.usernameHeaders &&
    from[1] === config.uidHeaders &&
    from[2] === config.groupHeaders &&
    from[3] === config.extraHeaderPrefixes &&
    lengths[0] === config.usernameHeaders.length &&
    lengths[1] === config.uidHeaders.length &&
    lengths[2] === config.groupHeaders.length &&
    lengths[3] === config.extraHeaderPrefixes.length
  );
}

/**
 * Lower-cased header lists of `config`, computed on first use and kept per configuration object (configurations are
 * immutable snapshots; a new ConfigMap read yields a new object), so the request path does not rebuild them.
 */
export function requestHeaderNames(config: RequestHeaderConfig): RequestHeaderNames {
  const cached = byConfig.get(config);
  if (cached && fresh(cached, config)) return cached;
  const namedSet = new Set<string>();
  for (const list of [config.usernameHeaders, config.uidHeaders, config.groupHeaders]) {
    for (const n of list) if (n) namedSet.add(n.toLowerCase());
  }
  const from = lists(config);
  const entry: Entry = {
    named: Object.freeze([...namedSet]),
    namedSet,
    prefixes: Object.freeze(config.extraHeaderPrefixes.filter((p) => p).map((p) => p.toLowerCase())),
    from,
    lengths: from.map((l) => l.length),
  };
  byConfig.set(config, entry);
  return entry;
}
