// Which HTTP proxy a kube-apiserver client goes through, as client-go decides it: the kubeconfig cluster's
// `proxy-url` when set, else Go's `http.ProxyFromEnvironment` (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, golang.org/x/net
// http/httpproxy). The decision is ours rather than undici's `EnvHttpProxyAgent` because their rules differ where
// operators notice: Go never proxies `localhost` or a loopback IP, reads the upper-case variable first, takes
// HTTPS_PROXY (only) for https targets, matches NO_PROXY CIDRs and `host:port` entries. The tunnel itself is undici's
// `ProxyAgent` (lib/cluster/rest-client.ts).
import { BlockList, isIP } from 'node:net';
import { KdaError } from '../errors.js';

/** The proxy a client uses, and where that choice came from (for messages; never contains credentials). */
export interface ProxyChoice {
  /** The proxy URL (`http:` or `https:`), credentials included for undici's `Proxy-Authorization`. */
  readonly url: URL;
  /** `kubeconfig proxy-url` or the environment variable that supplied it, e.g. `HTTPS_PROXY`. */
  readonly source: string;
}

/**
 * The proxy for requests to `server`: `proxyUrl` (kubeconfig `proxy-url`) when given, else the environment as Go's
 * `http.ProxyFromEnvironment` reads it. Undefined = connect directly. Throws `ERR_KDA_INVALID_OPTION` for a proxy this
 * client cannot use (socks5, or a scheme client-go refuses too), naming where the setting came from.
 */
export function proxyFor(
  server: string,
  proxyUrl: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ProxyChoice | undefined {
  if (proxyUrl !== undefined && proxyUrl !== '') {
    return { url: checkedProxyUrl(proxyUrl, 'kubeconfig proxy-url'), source: 'kubeconfig proxy-url' };
  }
  return proxyFromEnvironment(new URL(server), env);
}

/** Go's `http.ProxyFromEnvironment` (golang.org/x/net/http/httpproxy `FromEnvironment().ProxyFunc()`). */
export function proxyFromEnvironment(target: URL, env: NodeJS.ProcessEnv = process.env): ProxyChoice | undefined {
  let name: string;
  if (target.protocol === 'https:') name = envName(env, 'HTTPS_PROXY', 'https_proxy');
  else if (target.protocol === 'http:') {
    name = envName(env, 'HTTP_PROXY', 'http_proxy');
    // Go refuses HTTP_PROXY under CGI (httpoxy); so do we rather than silently connecting elsewhere.
    if (env[name] && env.REQUEST_METHOD) {
      throw new KdaError(
        'ERR_KDA_INVALID_OPTION',
        'refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy',
      );
    }
  } else return undefined;
  const raw = env[name] ?? '';
  if (raw === '') return undefined;
  const noProxy = env[envName(env, 'NO_PROXY', 'no_proxy')] ?? '';
  if (!useProxy(target, noProxy)) return undefined;
  return { url: checkedProxyUrl(goParseProxy(raw, name), name), source: name };
}

/** Go's `getEnvAny`: the first of the names that is set (even to ""), upper case first. */
function envName(env: NodeJS.ProcessEnv, upper: string, lower: string): string {
  return env[upper] !== undefined ? upper : lower;
}

/** Go's `parseProxy`: a value without a scheme (`proxy.corp:3128`) means `http://`. */
function goParseProxy(raw: string, source: string): string {
  try {
    const u = new URL(raw);
    if (u.host !== '') return raw;
  } catch {
    // fall through: try with http://
  }
  try {
    new URL(`http://${raw}`);
    return `http://${raw}`;
  } catch {
    throw new KdaError('ERR_KDA_INVALID_OPTION', `${source}: invalid proxy address ${JSON.stringify(raw)}`);
  }
}

function checkedProxyUrl(raw: string, source: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new KdaError('ERR_KDA_INVALID_OPTION', `${source}: invalid proxy URL ${JSON.stringify(redact(raw))}`);
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme === 'socks5' || scheme === 'socks5h' || scheme === 'socks') {
    throw new KdaError(
      'ERR_KDA_INVALID_OPTION',
      `${source}: SOCKS5 proxies are not supported by kube-delegated-auth (client-go supports them); ` +
        'use an HTTP CONNECT proxy (http:// or https://) or connect directly',
    );
  }
  if (scheme !== 'http' && scheme !== 'https') {
    // client-go's kubeconfig validation: "proxy URL scheme %q not supported".
    throw new KdaError('ERR_KDA_INVALID_OPTION', `${source}: proxy URL scheme "${scheme}" not supported`);
  }
  if (url.hostname === '') throw new KdaError('ERR_KDA_INVALID_OPTION', `${source}: proxy URL has no host`);
  return url;
}

/** The URL without its password, for messages. */
function redact(raw: string): string {
  return raw.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
}

/** Go's `httpproxy.config.useProxy` over `canonicalAddr(target)`. */
function useProxy(target: URL, noProxy: string): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port !== '' ? target.port : target.protocol === 'https:' ? '443' : '80';
  if (host === 'localhost') return false;
  const family = isIP(host);
  if (family !== 0 && isLoopback(host, family)) return false;
  for (const entry of noProxy.split(',')) {
    const p = entry.trim().toLowerCase();
    if (p === '') continue;
    if (p === '*') return false;
    const cidr = /^(.+)\/(\d{1,3})$/.exec(p);
    if (cidr && isIP(cidr[1]!) !== 0) {
      if (family === 0) continue;
      const list = new BlockList();
      const type = isIP(cidr[1]!) === 4 ? 'ipv4' : 'ipv6';
      try {
        list.addSubnet(cidr[1]!, Number(cidr[2]), type);
      } catch {
        continue;
      }
      if (list.check(host, family === 4 ? 'ipv4' : 'ipv6')) return false;
      continue;
    }
    const [host0, pport] = splitHostPort(p);
    let phost = host0;
    if (phost === '') continue;
    const pfamily = isIP(phost);
    if (pfamily !== 0) {
      if (family !== 0 && sameIp(phost, host) && (pport === '' || pport === port)) return false;
      continue;
    }
    if (phost.startsWith('*.')) phost = phost.slice(1);
    const matchHost = !phost.startsWith('.');
    if (matchHost) phost = `.${phost}`;
    if ((host.endsWith(phost) || (matchHost && host === phost.slice(1))) && (pport === '' || pport === port)) {
      return false;
    }
  }
  return true;
}

/** Go's `net.SplitHostPort` for NO_PROXY entries: `host:port`, `[v6]:port`; anything else is a bare host. */
function splitHostPort(p: string): [string, string] {
  const v6 = /^\[([^\]]*)\]:(\d*)$/.exec(p);
  if (v6) return [v6[1]!, v6[2]!];
  const m = /^([^:]*):(\d*)$/.exec(p);
  if (m) return [m[1]!, m[2]!];
  return [p, ''];
}

function isLoopback(ip: string, family: number): boolean {
  if (family === 4) return ip.startsWith('127.');
  const list = new BlockList();
  list.addAddress('::1', 'ipv6');
  list.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
  return list.check(ip, 'ipv6');
}

function sameIp(a: string, b: string): boolean {
  const fa = isIP(a);
  const fb = isIP(b);
  if (fa === 0 || fb === 0) return false;
  const list = new BlockList();
  list.addAddress(a, fa === 4 ? 'ipv4' : 'ipv6');
  return list.check(b, fb === 4 ? 'ipv4' : 'ipv6');
}
