import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Agent, request } from 'undici';
import YAML from 'yaml';
import { waitFor } from './wait-for.js';

/** Impersonation headers (`Impersonate-User`, one `Impersonate-Group` line per group, `Impersonate-Extra-*`). */
export interface Impersonation {
  readonly user: string;
  readonly groups?: readonly string[];
  readonly uid?: string;
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

export interface KubeClientOptions {
  /** kube-apiserver URL, e.g. `https://127.0.0.1:6443`. */
  readonly server: string;
  /** CA bundle (PEM) that verifies the serving certificate. */
  readonly caPem: string;
  /** Client certificate (PEM) for mTLS authentication. */
  readonly certPem?: string | undefined;
  readonly keyPem?: string | undefined;
  /** Bearer token, sent when set (in addition to any client certificate). */
  readonly token?: string;
  /** Impersonate this identity on every request (a per-request `impersonate` overrides it). */
  readonly impersonate?: Impersonation;
  /** Per-request timeout in ms (headers and body). Default 30000. */
  readonly requestTimeoutMs?: number;
}

export interface KubeRequestOptions {
  /** JSON-serialized unless it is already a string or Buffer. */
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Extra headers; arrays are sent as repeated header lines. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  /** Default `application/json` when there is a body. */
  readonly contentType?: string;
  /** Impersonation for this request only; `null` disables the client-wide impersonation. */
  readonly impersonate?: Impersonation | null;
  readonly signal?: AbortSignal;
}

export interface KubeResponse<T = unknown> {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  readonly body: T;
}

/** A non-2xx answer from kube-apiserver; `body` is usually a `Status`. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly method: string;
  readonly path: string;
  constructor(method: string, path: string, status: number, text: string, body: unknown) {
    super(`${method} ${path}: HTTP ${status}: ${text.slice(0, 500)}`);
    this.name = 'KubeApiError';
    this.status = status;
    this.body = body;
    this.method = method;
    this.path = path;
  }
}

/** A Kubernetes object, loosely typed. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** A ConfigMap, as `modify()` and `get()` callers edit it. */
export interface ConfigMapObject extends KubeObject {
  data: Record<string, string>;
}

interface RbacRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly verbs?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
}

interface RbacBindingSubject {
  readonly kind?: string;
  readonly name?: string;
  readonly namespace?: string;
}

function isRbacBinding(obj: KubeObject): boolean {
  return (
    (obj.kind === 'RoleBinding' || obj.kind === 'ClusterRoleBinding') &&
    typeof obj.apiVersion === 'string' &&
    obj.apiVersion.startsWith('rbac.authorization.k8s.io/')
  );
}

/** A concrete request one RBAC rule allows (wildcards replaced by a probe name), as SubjectAccessReview spec fields. */
function probeAttributes(rule: RbacRule, namespace: string | undefined): Record<string, unknown> | undefined {
  const concrete = (v: string | undefined, fallback: string) => (v === undefined || v === '*' ? fallback : v);
  const verb = concrete(rule.verbs?.[0], 'get');
  if (rule.nonResourceURLs?.length) {
    const url = rule.nonResourceURLs[0]!;
    return { nonResourceAttributes: { path: url.endsWith('*') ? `${url.slice(0, -1)}kda-probe` : url, verb } };
  }
  if (!rule.resources?.length) return undefined;
  const [resource, subresource] = concrete(rule.resources[0], 'kda-probe').split('/', 2);
  return {
    resourceAttributes: {
      ...(namespace ? { namespace } : {}),
      verb,
      group: concrete(rule.apiGroups?.[0], ''),
      resource,
      ...(subresource ? { subresource: subresource === '*' ? 'kda-probe' : subresource } : {}),
      ...(rule.resourceNames?.[0] ? { name: rule.resourceNames[0] } : {}),
    },
  };
}

/** The SubjectAccessReview user/groups a binding subject stands for. */
function subjectUser(s: RbacBindingSubject): { user: string; groups?: string[] } {
  if (s.kind === 'Group') return { user: 'kda-rbac-probe', groups: [s.name ?? ''] };
  if (s.kind === 'ServiceAccount') {
    return {
      user: `system:serviceaccount:${s.namespace}:${s.name}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${s.namespace}`, 'system:authenticated'],
    };
  }
  return { user: s.name ?? '' };
}

interface ResourceInfo {
  readonly name: string;
  readonly namespaced: boolean;
}

/**
 * A small admin REST client for tests and scripts: undici with keep-alive and a client certificate,
 * raw requests that return status + body, and object helpers (get/create/update/apply/delete by path or object).
 */
export class KubeClient {
  readonly server: string;
  readonly #opts: KubeClientOptions;
  readonly #agent: Agent;
  readonly #ownsAgent: boolean;
  readonly #discovery: Map<string, Promise<Map<string, ResourceInfo>>>;
  #closed = false;

  constructor(
    opts: KubeClientOptions,
    shared?: { agent: Agent; discovery: Map<string, Promise<Map<string, ResourceInfo>>> },
  ) {
    this.server = opts.server.replace(/\/+$/, '');
    this.#opts = opts;
    this.#agent =
      shared?.agent ??
      new Agent({
        connect: { ca: opts.caPem, cert: opts.certPem, key: opts.keyPem },
        keepAliveTimeout: 30_000,
        connections: 16,
      });
    this.#ownsAgent = shared === undefined;
    this.#discovery = shared?.discovery ?? new Map();
  }

  /** Loads a kubeconfig's current (or named) context: server, CA, client cert/key (data or file), token. */
  static fromKubeconfig(path: string, context?: string): KubeClient {
    return new KubeClient(kubeClientOptionsFromKubeconfig(path, context));
  }

  /** A view of this client that impersonates `identity`; it shares the connection pool (close the parent). */
  impersonating(identity: Impersonation): KubeClient {
    return new KubeClient({ ...this.#opts, impersonate: identity }, { agent: this.#agent, discovery: this.#discovery });
  }

  /** Sends one request and returns the status, headers and body whatever the status. */
  async request<T = unknown>(method: string, path: string, opts: KubeRequestOptions = {}): Promise<KubeResponse<T>> {
    if (this.#closed) throw new Error('KubeClient is closed');
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string | string[]> = { accept: 'application/json' };
    if (this.#opts.token) headers.authorization = `Bearer ${this.#opts.token}`;
    const imp = opts.impersonate === null ? undefined : (opts.impersonate ?? this.#opts.impersonate);
    if (imp) Object.assign(headers, impersonationHeaders(imp));
    let body: string | Buffer | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    }
    for (const [k, v] of Object.entries(opts.headers ?? {}))
      headers[k.toLowerCase()] = typeof v === 'string' ? v : [...v];
    const timeout = this.#opts.requestTimeoutMs ?? 30_000;
    const res = await request(url, {
      method: method as 'GET',
      headers,
      ...(body !== undefined && { body }),
      dispatcher: this.#agent,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: opts.signal,
    });
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text, body: parsed as T };
  }

  async #ok<T>(method: string, path: string, opts: KubeRequestOptions = {}): Promise<T> {
    const res = await this.request<T>(method, path, opts);
    if (res.status < 200 || res.status > 299) throw new KubeApiError(method, path, res.status, res.text, res.body);
    return res.body;
  }

  get<T = KubeObject>(path: string, opts?: KubeRequestOptions): Promise<T> {
    return this.#ok<T>('GET', path, opts);
  }

  /** GET that returns undefined on 404. */
  async getIfExists<T = KubeObject>(path: string): Promise<T | undefined> {
    const res = await this.request<T>('GET', path);
    if (res.status === 404) return undefined;
    if (res.status < 200 || res.status > 299) throw new KubeApiError('GET', path, res.status, res.text, res.body);
    return res.body;
  }

  /** POST to a collection path (`/api/v1/namespaces/x/configmaps`). */
  create<T = KubeObject>(collectionPath: string, obj: unknown, opts?: KubeRequestOptions): Promise<T> {
    return this.#ok<T>('POST', collectionPath, { ...opts, body: obj });
  }

  /** PUT to an object path; include `metadata.resourceVersion` for optimistic concurrency, or omit it to force. */
  update<T = KubeObject>(path: string, obj: unknown, opts?: KubeRequestOptions): Promise<T> {
    return this.#ok<T>('PUT', path, { ...opts, body: obj });
  }

  /**
   * Read-modify-write with optimistic concurrency, as client-go's `retry.RetryOnConflict(retry.DefaultRetry, …)`:
   * GET the object, let `mutate` change a copy (it may be async), PUT it with the resourceVersion it was read at, and
   * on a 409 read again and retry (5 attempts). Needed for objects kube-apiserver itself rewrites, such as
   * kube-system/extension-apiserver-authentication (its ClusterAuthenticationTrustController re-merges the CA
   * bundles whenever the ConfigMap changes, so a plain GET-then-PUT can lose to it). Returns the stored object.
   */
  async modify<T extends KubeObject = KubeObject>(
    path: string,
    mutate: (obj: T) => T | void | Promise<T | void>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const copy = structuredClone(await this.get<T>(path));
      const next = (await mutate(copy)) ?? copy;
      const res = await this.request<T>('PUT', path, { body: next });
      if (res.status === 409 && attempt < 5) continue;
      if (res.status < 200 || res.status > 299) throw new KubeApiError('PUT', path, res.status, res.text, res.body);
      return res.body;
    }
  }

  /** PATCH; `type` selects the content type (default JSON merge patch). */
  patch<T = KubeObject>(path: string, patch: unknown, type: 'merge' | 'strategic' | 'json' = 'merge'): Promise<T> {
    const contentType = {
      merge: 'application/merge-patch+json',
      strategic: 'application/strategic-merge-patch+json',
      json: 'application/json-patch+json',
    }[type];
    return this.#ok<T>('PATCH', path, { body: patch, contentType });
  }

  /** DELETE; a 404 is not an error unless `ignoreNotFound` is false. Returns whether the object existed. */
  async delete(path: string, opts: { readonly ignoreNotFound?: boolean } = {}): Promise<boolean> {
    const res = await this.request('DELETE', path);
    if (res.status === 404 && opts.ignoreNotFound !== false) return false;
    if (res.status < 200 || res.status > 299) throw new KubeApiError('DELETE', path, res.status, res.text, res.body);
    return true;
  }

  /** The REST path of an object (`/apis/g/v/namespaces/ns/plural/name`), resolved through API discovery. */
  async objectPath(obj: KubeObject, opts: { readonly collection?: boolean } = {}): Promise<string> {
    const { apiVersion, kind } = obj;
    const name = obj.metadata?.name;
    if (!apiVersion || !kind) throw new Error('object needs apiVersion and kind');
    const info = await this.#resource(apiVersion, kind);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${encodeURIComponent(obj.metadata?.namespace ?? 'default')}` : '';
    const collection = `${base}${ns}/${info.name}`;
    if (opts.collection) return collection;
    if (!name) throw new Error(`${kind} needs metadata.name`);
    return `${collection}/${encodeURIComponent(name)}`;
  }

  async #resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    let p = this.#discovery.get(apiVersion);
    if (!p) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      p = this.get<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(path).then((list) => {
        const m = new Map<string, ResourceInfo>();
        for (const r of list.resources)
          if (!r.name.includes('/')) m.set(r.kind, { name: r.name, namespaced: r.namespaced });
        return m;
      });
      this.#discovery.set(apiVersion, p);
      p.catch(() => this.#discovery.delete(apiVersion));
    }
    const info = (await p).get(kind);
    if (!info) throw new Error(`kind ${kind} not served by ${apiVersion}`);
    return info;
  }

  /** Creates the object, or replaces it (keeping its resourceVersion) when it exists. Returns the stored object. */
  async apply<T extends KubeObject = KubeObject>(obj: T): Promise<T> {
    const path = await this.objectPath(obj);
    for (let attempt = 0; ; attempt++) {
      const existing = await this.getIfExists<KubeObject>(path);
      if (existing?.metadata?.deletionTimestamp) {
        // Updating it would succeed and the object would still go once its finalizers are done (never, for those
        // only kube-controller-manager finishes): the caller meant a live object.
        throw new Error(
          `${obj.kind} ${path} is being deleted (finalizers ${JSON.stringify(existing.metadata.finalizers ?? (existing.spec as { finalizers?: unknown } | undefined)?.finalizers ?? [])}); apply() will not update it: use another name`,
        );
      }
      const res = existing
        ? await this.request<T>('PUT', path, {
            body: { ...obj, metadata: { ...obj.metadata, resourceVersion: existing.metadata?.resourceVersion } },
          })
        : await this.request<T>('POST', await this.objectPath(obj, { collection: true }), { body: obj });
      // 409: created or changed concurrently; read again and retry.
      if (res.status === 409 && attempt < 5) continue;
      if (res.status < 200 || res.status > 299) throw new KubeApiError('APPLY', path, res.status, res.text, res.body);
      // kube-apiserver's RBAC authorizer reads bindings from an informer cache that lags the write: whoever uses the
      // binding right after apply() would race it (a 403 that a moment later is a 200).
      if (isRbacBinding(res.body)) await this.waitForRbacBinding(res.body);
      return res.body;
    }
  }

  /**
   * Waits until kube-apiserver's authorizer honours `binding` (a RoleBinding or ClusterRoleBinding): for each
   * subject, a SubjectAccessReview for one request the bound role's first rule allows must say allowed. `apply()`
   * calls it for every binding it writes. Returns without waiting when the role does not exist (yet) or its first
   * rule names nothing to probe, or when this client may not create SubjectAccessReviews. Throws after `timeoutMs`
   * (default 30000) naming the subject and the request.
   */
  async waitForRbacBinding(binding: KubeObject, opts: { readonly timeoutMs?: number } = {}): Promise<void> {
    const namespace = binding.kind === 'RoleBinding' ? binding.metadata?.namespace : undefined;
    const roleRef = binding.roleRef as { kind?: string; name?: string } | undefined;
    if (!roleRef?.name) return;
    const rolePath =
      roleRef.kind === 'Role'
        ? `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace ?? 'default'}/roles/${roleRef.name}`
        : `/apis/rbac.authorization.k8s.io/v1/clusterroles/${roleRef.name}`;
    const role = await this.getIfExists<{ rules?: RbacRule[] }>(rolePath);
    const attrs = role?.rules?.[0] ? probeAttributes(role.rules[0], namespace) : undefined;
    if (!attrs) return;
    const subjects = (binding.subjects as RbacBindingSubject[] | undefined) ?? [];
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (const subject of subjects) {
      const who = subjectUser(subject);
      let last = '';
      // A poll: kube-apiserver's RBAC authorizer picks the binding up from its informer cache, which no API announces.
      const outcome = await waitFor(
        async () => {
          const res = await this.request<{ status?: { allowed?: boolean } }>(
            'POST',
            '/apis/authorization.k8s.io/v1/subjectaccessreviews',
            {
              body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { ...who, ...attrs } },
            },
          );
          if (res.status === 401 || res.status === 403) return 'cannot review';
          if (res.status === 201 && res.body.status?.allowed === true) return 'allowed';
          last = `HTTP ${res.status} ${res.text.slice(0, 300)}`;
          return undefined;
        },
        {
          what: `RBAC binding ${binding.metadata?.name}: kube-apiserver to allow ${JSON.stringify(who)} ${JSON.stringify(attrs)}`,
          timeoutMs: Math.max(0, deadline - Date.now()),
          intervalMs: 50,
          detail: () => `last: ${last}`,
        },
      );
      if (outcome === 'cannot review') return;
    }
  }

  /** Deletes an object given as an object (path via discovery). */
  async deleteObject(obj: KubeObject): Promise<boolean> {
    return this.delete(await this.objectPath(obj));
  }

  /**
   * A service-account token from the TokenRequest API. Creates the ServiceAccount first when missing
   * (no controller-manager runs here, so nothing else creates them).
   */
  async createServiceAccountToken(
    namespace: string,
    serviceAccount: string,
    opts: { readonly audiences?: readonly string[]; readonly expirationSeconds?: number } = {},
  ): Promise<string> {
    await this.ensureNamespace(namespace);
    const saPath = `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}`;
    if (!(await this.getIfExists(saPath))) {
      const res = await this.request('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, {
        body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: serviceAccount, namespace } },
      });
      if (res.status !== 201 && res.status !== 409)
        throw new KubeApiError('POST', saPath, res.status, res.text, res.body);
    }
    const tr = await this.create<{ status: { token: string } }>(`${saPath}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        audiences: opts.audiences ? [...opts.audiences] : null,
        expirationSeconds: opts.expirationSeconds ?? 3600,
      },
    });
    return tr.status.token;
  }

  /**
   * Creates the namespace when missing. Throws at once, naming it, when it exists but is being deleted: only
   * kube-controller-manager's namespace controller finishes a deletion, and the harness runs none, so such a
   * namespace stays `Terminating` for good and every create in it would fail with a 403 far from the cause.
   */
  async ensureNamespace(name: string): Promise<void> {
    const existing = await this.getIfExists<KubeObject & { status?: { phase?: string } }>(`/api/v1/namespaces/${name}`);
    if (existing?.status?.phase === 'Terminating' || existing?.metadata?.deletionTimestamp) {
      throw new Error(
        `namespace ${name} is being deleted (Terminating); a namespace without a namespace controller never goes away: use another name, or do not delete it`,
      );
    }
    if (existing) return;
    const res = await this.request('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
    });
    if (res.status !== 201 && res.status !== 409)
      throw new KubeApiError('POST', '/api/v1/namespaces', res.status, res.text, res.body);
  }

  /** Polls `GET path` until `predicate` holds (404 counts as "not yet"); throws with the last state on timeout. */
  async waitFor<T = KubeObject>(
    path: string,
    predicate: (obj: T) => boolean,
    opts: { readonly timeoutMs?: number; readonly intervalMs?: number; readonly what?: string } = {},
  ): Promise<T> {
    let last = '';
    // A poll: some paths waited on are not watchable (discovery, e.g. `/apis/<group>/<version>` being routed).
    return waitFor(
      async () => {
        const res = await this.request<T>('GET', path).catch((err: unknown) => {
          last = String(err);
          return undefined;
        });
        if (!res) return undefined;
        if (res.status === 200 && predicate(res.body)) return { obj: res.body };
        last = `HTTP ${res.status}: ${res.text.slice(0, 1000)}`;
        return undefined;
      },
      {
        what: opts.what ?? path,
        timeoutMs: opts.timeoutMs ?? 30_000,
        intervalMs: opts.intervalMs ?? 250,
        detail: () => `last state: ${last}`,
      },
    ).then(({ obj }) => obj);
  }

  /** Closes the connection pool (views from `impersonating` share it and are closed too). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsAgent) await this.#agent.close();
  }
}

export function impersonationHeaders(imp: Impersonation): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = { 'impersonate-user': imp.user };
  if (imp.groups && imp.groups.length > 0) h['impersonate-group'] = [...imp.groups];
  if (imp.uid !== undefined) h['impersonate-uid'] = imp.uid;
  for (const [k, v] of Object.entries(imp.extra ?? {})) h[`impersonate-extra-${encodeURIComponent(k)}`] = [...v];
  return h;
}

/** What a kubeconfig user entry can hold: client cert/key and/or a token (PEM strings, not paths). */
export interface KubeconfigSpec {
  readonly server: string;
  readonly caPem: string;
  readonly certPem?: string;
  readonly keyPem?: string;
  readonly token?: string;
  /** Context, cluster and user name. Default `kube-delegated-auth`. */
  readonly name?: string;
}

/** Writes a single-context kubeconfig with embedded data (mode 0600). */
export function writeKubeconfig(path: string, spec: KubeconfigSpec): string {
  const name = spec.name ?? 'kube-delegated-auth';
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const user: Record<string, string> = {};
  if (spec.certPem) user['client-certificate-data'] = b64(spec.certPem);
  if (spec.keyPem) user['client-key-data'] = b64(spec.keyPem);
  if (spec.token) user.token = spec.token;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: spec.server, 'certificate-authority-data': b64(spec.caPem) } }],
    users: [{ name, user }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  };
  writeFileSync(path, YAML.stringify(doc), { mode: 0o600 });
  return path;
}

/** Reads a kubeconfig (data or file references, relative to the kubeconfig's directory) into client options. */
export function kubeClientOptionsFromKubeconfig(path: string, context?: string): KubeClientOptions {
  const doc = YAML.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const byName = <T>(list: unknown, name: string, key: string): T => {
    const entry = (list as { name: string }[] | undefined)?.find((e) => e.name === name) as
      Record<string, T> | undefined;
    if (!entry) throw new Error(`${path}: no ${key} named ${name}`);
    return entry[key]!;
  };
  const ctxName = context ?? (doc['current-context'] as string);
  const ctx = byName<{ cluster: string; user: string }>(doc.contexts, ctxName, 'context');
  const cluster = byName<Record<string, string>>(doc.clusters, ctx.cluster, 'cluster');
  const user = byName<Record<string, string>>(doc.users, ctx.user, 'user') ?? {};
  const base = dirname(path);
  const load = (data: string | undefined, file: string | undefined): string | undefined => {
    if (data) return Buffer.from(data, 'base64').toString('utf8');
    if (file) return readFileSync(isAbsolute(file) ? file : resolve(base, file), 'utf8');
    return undefined;
  };
  const caPem = load(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (!cluster.server || !caPem) throw new Error(`${path}: cluster ${ctx.cluster} needs server and a CA`);
  return {
    server: cluster.server,
    caPem,
    certPem: load(user['client-certificate-data'], user['client-certificate']),
    keyPem: load(user['client-key-data'], user['client-key']),
    token: user.token,
  };
}
