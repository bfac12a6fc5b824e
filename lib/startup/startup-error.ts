import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InvalidOptionError, KdaError } from '../errors.js';
import { parsePemBundle } from '../trust/pem.js';

/**
 * A command could not start. The CLI prints it as one line, `error: <subject>: <reason>; fix: <fix>`, and exits 1
 * (flag-usage errors stay `InvalidOptionError`, exit 2). `subject` names what the operator gave: a flag with its
 * file (`--client-ca-file /etc/ca.crt`), a port, a ConfigMap.
 */
export class StartupError extends Error {
  readonly subject: string;
  readonly reason: string;
  /** The command or change that fixes it, when known. */
  readonly fix: string | undefined;

  constructor(subject: string, reason: string, fix?: string, options?: { cause?: unknown }) {
    super(`${subject}: ${reason}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StartupError';
    this.subject = subject;
    this.reason = reason;
    this.fix = fix;
  }

  /** The one line the CLI prints after `error: `. */
  get line(): string {
    return oneLine(this.fix ? `${this.message}; fix: ${this.fix}` : this.message);
  }
}

/** The first line of `text`, trimmed: multi-line library messages (YAML parsers, OpenSSL) must not break the line. */
export function oneLine(text: string): string {
  return (text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '').trim();
}

/** A reason and, when known, its fix. */
export interface Explained {
  readonly reason: string;
  readonly fix?: string;
}

/** What the explanation may refer to: the file the subject names and the kubeconfig in use. */
export interface ExplainContext {
  /** The file the subject names; an errno on another path mentions that path. */
  readonly file?: string;
  /** How to point kubectl at the same cluster, e.g. `--kubeconfig /etc/kda.kubeconfig`, for fix commands. */
  readonly kubectlFlags?: string;
}

type ErrnoLike = { code?: unknown; syscall?: unknown; path?: unknown; address?: unknown; port?: unknown };

const errnoText: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a parent of the path is not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
};

/** TLS verification failures of a connection to kube-apiserver (Node/OpenSSL codes). */
const tlsVerifyCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const unreachableCodes: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_SOCKET: 'connection closed',
};

/** `err` and its `cause`s, outermost first (bounded: causes can be cyclic). */
function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && chain.length < 8 && !chain.includes(e);) {
    chain.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return chain;
}

function messageOf(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err));
}

interface KubeApiErrorLike {
  readonly name: 'KubeApiError';
  readonly message: string;
  readonly statusCode: number | undefined;
  readonly networkCode: string | undefined;
}

function isKubeApiError(e: unknown): e is KubeApiErrorLike {
  return e instanceof Error && e.name === 'KubeApiError';
}

/** `Get "https://host/api/…": ` → the part after the request line, for shorter messages. */
function withoutRequestLine(message: string): string {
  return message.replace(/^[A-Za-z]+ "[^"]*": /, '');
}

/**
 * Explains an error for an operator: errno codes of files and sockets, OpenSSL PEM and key errors, TLS verification
 * failures and HTTP statuses from kube-apiserver, with the fix where one is known. Falls back to the message.
 */
export function explainError(err: unknown, ctx: ExplainContext = {}): Explained {
  const chain = causeChain(err);
  const kubectl = ctx.kubectlFlags ? `kubectl ${ctx.kubectlFlags}` : 'kubectl';
  // The library's own fix (e.g. the rolebinding for a forbidden ConfigMap read) wins.
  const libraryFix = chain
    .map((e) => (e instanceof KdaError && typeof e.details.fix === 'string' ? e.details.fix : undefined))
    .find((f) => f !== undefined);

  for (const e of chain) {
    if (e instanceof InvalidOptionError) return { reason: e.problems.join('; ') };
    if (isKubeApiError(e)) {
      const detail = withoutRequestLine(e.message);
      if (e.statusCode === 401) {
        return {
          reason: `kube-apiserver rejected the credentials (401 Unauthorized): ${detail}`,
          fix: `renew the token or client certificate of the kubeconfig user; check with '${kubectl} auth whoami'`,
        };
      }
      if (e.statusCode === 403) {
        return {
          reason: `forbidden (403): ${detail}`,
          ...(libraryFix !== undefined && { fix: libraryFix }),
        };
      }
      if (e.statusCode !== undefined) return { reason: `kube-apiserver answered ${e.statusCode}: ${detail}` };
      const code = e.networkCode ?? '';
      if (tlsVerifyCodes.has(code)) {
        return {
          reason: `TLS: kube-apiserver's certificate is not trusted (${code}: ${detail})`,
          fix:
            code === 'ERR_TLS_CERT_ALTNAME_INVALID'
              ? "use a server address named in kube-apiserver's certificate, or set tls-server-name in the kubeconfig cluster"
              : `set the kubeconfig cluster's certificate-authority-data to kube-apiserver's CA; check with '${kubectl} get --raw /readyz'`,
        };
      }
      if (code in unreachableCodes) {
        return {
          reason: `cannot reach kube-apiserver (${unreachableCodes[code]}): ${detail}`,
          fix: `check the server address in the kubeconfig and that kube-apiserver runs: '${kubectl} cluster-info'`,
        };
      }
      return { reason: detail };
    }
    const errno = e as ErrnoLike;
    const code = typeof errno.code === 'string' ? errno.code : undefined;
    if (code === undefined) continue;
    if (errno.syscall === 'listen' || errno.syscall === 'bind') {
      const where = `${String(errno.address)}:${String(errno.port)}`;
      if (code === 'EADDRINUSE') {
        return {
          reason: `${where} is already in use by another process`,
          fix: `stop it (ss -ltnp 'sport = :${String(errno.port)}' shows it) or choose another --secure-port (0 picks a free port)`,
        };
      }
      if (code === 'EACCES') {
        return {
          reason: `permission denied listening on ${where} (ports below 1024 need root or CAP_NET_BIND_SERVICE)`,
          fix: '--secure-port 8443',
        };
      }
      if (code === 'EADDRNOTAVAIL') {
        return {
          reason: `${String(errno.address)} is not an address of this host`,
          fix: '--bind-address 0.0.0.0 (all addresses) or one of this host’s addresses',
        };
      }
      return { reason: `cannot listen on ${where}: ${code}` };
    }
    if (code in errnoText) {
      const path = typeof errno.path === 'string' ? errno.path : undefined;
      const other = path !== undefined && path !== ctx.file ? `${path}: ` : '';
      return { reason: `${other}${errnoText[code]} (${code})` };
    }
    if (code === 'ERR_OSSL_PEM_NO_START_LINE') return { reason: 'not PEM: no "-----BEGIN …-----" line' };
    if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH')
      return { reason: 'the private key does not match the certificate' };
  }
  const message = messageOf(err);
  return { reason: message, ...(libraryFix !== undefined && { fix: libraryFix }) };
}

/** Runs one startup step; any failure becomes a {@link StartupError} naming `subject`. */
export async function startupStep<T>(
  subject: string,
  run: () => T | Promise<T>,
  ctx: ExplainContext & { readonly fix?: string } = {},
): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof StartupError) throw err;
    const x = explainError(err, ctx);
    // Loaders prefix problems with their path (`identity mapping file:/x: …`); the subject already names the file.
    const at = ctx.file === undefined ? -1 : x.reason.indexOf(`${ctx.file}: `);
    const reason = at >= 0 && at < 40 ? x.reason.slice(at + ctx.file!.length + 2) : x.reason;
    throw new StartupError(subject, reason, x.fix ?? ctx.fix, { cause: err });
  }
}

/** A file given by a flag: `--flag /path`. */
export function flagFile(flag: string, file: string): NamedFile {
  return { subject: `${flag} ${file}`, file };
}

async function readText(f: NamedFile, fix?: string): Promise<string> {
  return startupStep(f.subject, () => readFile(f.file, 'utf8'), { file: f.file, ...(fix !== undefined && { fix }) });
}

const certBlock = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** A file and how the operator named it (`--tls-cert-file /x`, `--cert-dir /d (serving.crt)`). */
export interface NamedFile {
  readonly subject: string;
  readonly file: string;
}

/**
 * Reads and checks a serving certificate and key pair: each file readable, the certificate PEM parsable, the key
 * PEM parsable, and the key belonging to the certificate. Throws a {@link StartupError} naming the file at fault.
 */
export async function loadServingPair(
  cert: NamedFile,
  key: NamedFile,
  fix?: string,
): Promise<{ readonly cert: string; readonly key: string }> {
  const [certPem, keyPem] = await Promise.all([readText(cert, fix), readText(key, fix)]);
  const blocks = certPem.match(certBlock) ?? [];
  if (blocks.length === 0) {
    throw new StartupError(
      cert.subject,
      'no PEM certificate in the file (expected "-----BEGIN CERTIFICATE-----")',
      fix,
    );
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(blocks[0]!);
    for (const b of blocks.slice(1)) new X509Certificate(b);
  } catch (err) {
    throw new StartupError(cert.subject, `the certificate cannot be parsed: ${messageOf(err)}`, fix, { cause: err });
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) {
    throw new StartupError(
      key.subject,
      'no PEM private key in the file (expected "-----BEGIN … PRIVATE KEY-----")',
      fix,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (err) {
    const encrypted = /ENCRYPTED/.test(keyPem) ? ' (encrypted keys are not supported)' : '';
    throw new StartupError(key.subject, `the private key cannot be parsed${encrypted}: ${messageOf(err)}`, fix, {
      cause: err,
    });
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new StartupError(
      key.subject,
      `the private key does not belong to the certificate in ${cert.subject}`,
      fix ?? 'pass the key that was generated together with the certificate',
    );
  }
  return { cert: certPem, key: keyPem };
}

/** Reads and parses a PEM CA bundle as the trust sources will (Go's `cert.ParseCertsPEM` rules). */
export async function loadCaBundle(f: NamedFile, fix?: string): Promise<string> {
  const text = await readText(f, fix);
  try {
    parsePemBundle(text, f.file);
  } catch (err) {
    const message = messageOf(err);
    const prefix = `invalid CA bundle ${f.file}: `;
    const what = message.startsWith(prefix) ? message.slice(prefix.length) : message;
    throw new StartupError(f.subject, `not a PEM CA bundle: ${what}`, fix, { cause: err });
  }
  return text;
}

/**
 * NODE_DEBUG=kube-delegated-auth, the library's debug switch (`util.debuglog` rules: comma-separated, `*`
 * wildcards, case-insensitive), also makes the CLI print stacks.
 */
export function cliDebugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.NODE_DEBUG ?? '')
    .split(/[\s,]+/)
    .filter((p) => p !== '')
    .some((p) =>
      new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test('kube-delegated-auth'),
    );
}

/**
 * The lines the CLI prints for a failure that is not a flag-usage error: one `error: …` line; with
 * {@link cliDebugEnabled} the stack and causes follow.
 */
export function startupErrorLines(err: unknown, debug = cliDebugEnabled()): string[] {
  const line = err instanceof StartupError ? err.line : messageOf(err) || 'unknown error';
  const lines = [`error: ${line}`];
  if (debug) {
    for (const e of causeChain(err)) lines.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
  }
  return lines;
}
