import Koa from 'koa';
import type { Context, Middleware } from 'koa';
import {
  type UserInfo,
  InvalidOptionError,
  type RequestInfo,
  goQuote,
  requestInfoStep,
  goParseQuery,
  goJson,
  internalError,
  statusFailure,
  type HttpResponse,
  noopLogger,
  type Logger,
  readJsonBody,
  readRequestBody,
  mediaTypeOf,
  type JsonBodyFailure,
} from 'kube-delegated-auth';
import {
  discoveryEndpoints,
  firstBlock,
  healthEndpoints,
  openApiEndpoints,
  type HealthCheck,
} from 'kube-delegated-auth/apiserver';
import {
  rootPaths,
  sampleApi,
  sampleGroup,
  sampleGroupVersion,
  sampleOpenApiInfo,
  sampleVersion,
  widgetPatchTypes,
} from './api.js';
import { applyJsonPatch, dataDepth, mergePatch, parseApplyConfiguration, removeUnapplied } from './patch.js';
import { negotiateRead, parseIncludeObject, widgetTable, type IncludeObject } from './table.js';
import { matchesSelectors, parseListOptions, type ListOptions } from './list-options.js';
import {
  chunkList,
  decodeContinue,
  encodeContinue,
  inconsistentContinueMessage,
  type ContinuePoint,
} from './list-chunking.js';
import { unknownFields } from './widget-fields.js';
import { WidgetStore, type FieldError, type StoreEvent, type Widget, type WriteResult } from './widget-store.js';

/** `fieldValidation` of Create/Update/PatchOptions. */
type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export interface SampleAppOptions {
  /**
   * The auth pipeline, run in order before any route: normally `[requestInfo(), authenticate(...), authorize(...)]`
   * from `kube-delegated-auth/koa`. Required so that nobody runs the sample unauthenticated by accident; pass `[]`
   * explicitly in tests of the routes alone.
   */
  readonly pipeline: readonly Middleware[];
  /** Extra checks for /readyz (trust sources, shutdown); `ping` is always included. Default none. */
  readonly readinessChecks?: readonly HealthCheck[];
  /** Largest accepted JSON request body, in bytes. Default 1 MiB (kube-apiserver allows 3 MiB; widgets are small). */
  readonly maxBodyBytes?: number;
  /** The widget store; default a fresh in-memory one. */
  readonly store?: WidgetStore;
  readonly logger?: Logger;
}

function send(ctx: Context, r: HttpResponse): void {
  ctx.status = r.status;
  for (const [k, v] of Object.entries(r.headers)) ctx.set(k, v);
  ctx.body = r.body;
}

function sendJson(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(body) + '\n';
}

const notFound = (ctx: Context) =>
  send(ctx, statusFailure(404, 'NotFound', 'the server could not find the requested resource', {}));

/**
 * Deepest JSON nesting accepted in a body (readJsonBody's default is Go's 10000): serialising and merge-patching
 * recurse, so an object nested tens of thousands deep would otherwise exhaust the stack when it is echoed back.
 */
const maxJsonDepth = 1000;

/** Writes a refused body's Status (415, 413 with `Connection: close`, 400). */
function bodyRefused(ctx: Context, failure: JsonBodyFailure): undefined {
  if (failure.closeConnection) ctx.set('connection', 'close');
  send(ctx, statusFailure(failure.status, failure.reason, failure.message));
  return undefined;
}

/**
 * Reads a JSON object body (`application/json`, or no Content-Type, as Go's decoder reads it) with readJsonBody;
 * `undefined` means the refusal was written. Without `required` an empty body reads as `{}` (DeleteOptions).
 */
async function readJson(ctx: Context, limit: number, required: boolean): Promise<Record<string, unknown> | undefined> {
  const r = await readJsonBody(ctx.req, {
    limit,
    allowMissingContentType: true,
    allowEmpty: !required,
    maxDepth: maxJsonDepth,
  });
  if (!r.ok) return bodyRefused(ctx, r.failure);
  return (r.value ?? {}) as Record<string, unknown>;
}

/** Checks apiVersion/kind of a submitted object the way the apiserver's decoder does. */
function checkTypeMeta(ctx: Context, body: Record<string, unknown>, kind: string): boolean {
  const { apiVersion, kind: k } = body;
  if ((apiVersion !== undefined && apiVersion !== sampleGroupVersion) || (k !== undefined && k !== kind)) {
    send(
      ctx,
      statusFailure(
        400,
        'BadRequest',
        `the API version in the data (${String(apiVersion ?? '')}) or kind (${String(k ?? '')}) does not match the expected ${sampleGroupVersion}, Kind=${kind}`,
      ),
    );
    return false;
  }
  return true;
}

/** The identity `authenticate()` stored; absent only when the pipeline has no authenticator. */
function userOf(ctx: Context): UserInfo | undefined {
  return (ctx.state as { user?: UserInfo }).user;
}

/** authentication.k8s.io/v1 UserInfo JSON: `uid` and `extra` omitted when empty (Go's omitempty). */
function userInfoJson(u: UserInfo): object {
  const extra = Object.keys(u.extra).length > 0 ? { extra: u.extra } : {};
  return { username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups: [...u.groups], ...extra };
}

/** `{kind}.{group}` as Go's `schema.GroupKind.String()`. */
function groupKindString(group: string, kind: string): string {
  return group ? `${kind}.${group}` : kind;
}

/**
 * Go's `errors.NewInvalid(groupKind, name, errs)`: 422 with one `details.causes` entry per field error, which is
 * what `kubectl` prints (`* metadata.name: Invalid value: ...`).
 */
export function invalidStatus(group: string, kind: string, name: string, errors: readonly FieldError[]): HttpResponse {
  const messages = [...new Set(errors.map((e) => `${e.field}: ${e.message}`))];
  const aggregate = messages.length === 1 ? messages[0]! : `[${messages.join(', ')}]`;
  const body = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `${groupKindString(group, kind)} ${goQuote(name)} is invalid: ${aggregate}`,
    reason: 'Invalid',
    details: {
      ...(name ? { name } : {}),
      group,
      kind,
      causes: errors.map((e) => ({ reason: e.type, message: e.message, field: e.field })),
    },
    code: 422,
  };
  return { status: 422, headers: { 'content-type': 'application/json' }, body: goJson(body) + '\n' };
}

type DryRunResult =
  { readonly ok: true; readonly dryRun: boolean } | { readonly ok: false; readonly error: FieldError };

/**
 * `dryRun` of Create/Update/Patch/DeleteOptions, validated as Go's `ValidateDryRun`: every value must be exactly
 * `All` (case-sensitive; `dryRun=all` is refused, never taken as a real write).
 */
function parseDryRun(rawQuery: string): DryRunResult {
  return checkDryRun(goParseQuery(rawQuery).get('dryRun') ?? []);
}

function checkDryRun(values: readonly string[]): DryRunResult {
  if (values.every((v) => v === 'All')) return { ok: true, dryRun: values.length > 0 };
  return {
    ok: false,
    error: {
      type: 'FieldValueNotSupported',
      field: 'dryRun',
      message: `Unsupported value: []string{${values.map(goQuote).join(', ')}}: supported values: "All"`,
    },
  };
}

/** The raw query of the request-target, as RequestInfo read it. */
function rawQueryOf(ctx: Context): string {
  const url = ctx.req.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}

/** Default watch duration without `timeoutSeconds`: Go's `--min-request-timeout` (1800 s) times [1, 2). */
const minRequestTimeoutSeconds = 1800;
/** setTimeout's ceiling (~24.8 days); a longer `timeoutSeconds` is clamped to it. */
const maxTimerMs = 2 ** 31 - 1;
/** A watcher this far behind (bytes queued on its socket) is ended, as Go drops watchers that cannot keep up. */
const maxWatchBacklogBytes = 4 * 1024 * 1024;

/**
 * The sample extension apiserver as a Koa app: discovery, OpenAPI, health, in-memory `widgets` and
 * `selfsubjectreviews`, behind the caller's auth pipeline (RequestInfo → authentication → authorization, Go's
 * filter order).
 *
 * Requests are routed on the RequestInfo the pipeline resolved (`ctx.state.requestInfo`, the attributes that were
 * authorized), never on a second parse of the path: the group, version, namespace, resource, name and verb served are
 * those authorized. Without a `requestInfo()` middleware in the pipeline the app resolves RequestInfo itself, the same
 * way.
 */
export function createSampleApp(opts: SampleAppOptions): Koa {
  const problems: string[] = [];
  if (!Array.isArray(opts.pipeline)) problems.push('"pipeline" must be an array of Koa middleware');
  else if (opts.pipeline.some((m) => typeof m !== 'function')) problems.push('"pipeline" must contain only functions');
  if (opts.maxBodyBytes !== undefined && !(Number.isInteger(opts.maxBodyBytes) && opts.maxBodyBytes > 0)) {
    problems.push('"maxBodyBytes" must be a positive integer (bytes)');
  }
  if (problems.length > 0) throw new InvalidOptionError(problems);
  const logger = opts.logger ?? noopLogger;
  const store = opts.store ?? new WidgetStore();
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  // Health, discovery and OpenAPI: kube-delegated-auth/apiserver's blocks, built from the API table in api.ts.
  const blocks = firstBlock(
    healthEndpoints({ readyzChecks: opts.readinessChecks ?? [], logger }),
    discoveryEndpoints([sampleApi]),
    openApiEndpoints([sampleApi], sampleOpenApiInfo),
  );

  const widgetNotFound = (ctx: Context, name: string) =>
    send(
      ctx,
      statusFailure(404, 'NotFound', `widgets.${sampleGroup} ${goQuote(name)} not found`, {
        name,
        group: sampleGroup,
        kind: 'widgets',
      }),
    );
  const methodNotAllowed = (ctx: Context) =>
    send(
      ctx,
      statusFailure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}),
    );
  const badRequest = (ctx: Context, message: string) => send(ctx, statusFailure(400, 'BadRequest', message));

  /** Answers a failed store write the way Go's registry does. */
  const writeFailed = (ctx: Context, r: Exclude<WriteResult, { ok: true }>) => {
    switch (r.reason) {
      case 'AlreadyExists':
        return send(
          ctx,
          statusFailure(409, 'AlreadyExists', `widgets.${sampleGroup} ${goQuote(r.name)} already exists`, {
            name: r.name,
            group: sampleGroup,
            kind: 'widgets',
          }),
        );
      case 'NotFound':
        return widgetNotFound(ctx, r.name);
      case 'Conflict':
        return send(
          ctx,
          statusFailure(
            409,
            'Conflict',
            `Operation cannot be fulfilled on widgets.${sampleGroup} ${goQuote(r.name)}: the object has been modified; please apply your changes to the latest version and try again`,
            { name: r.name, group: sampleGroup, kind: 'widgets' },
          ),
        );
      case 'Invalid':
        return send(ctx, invalidStatus(sampleGroup, 'Widget', r.name, r.errors));
      case 'BadRequest':
        return badRequest(ctx, r.message);
    }
  };

  /** Reads `dryRun`; undefined means the 422 was written (Go: `<Kind>Options.meta.k8s.io "" is invalid`). */
  const dryRunOf = (ctx: Context, optionsKind: string): boolean | undefined => {
    const d = parseDryRun(rawQueryOf(ctx));
    if (d.ok) return d.dryRun;
    send(ctx, invalidStatus('meta.k8s.io', optionsKind, '', [d.error]));
    return undefined;
  };

  /** List options for list and watch; undefined means the 400 was written. */
  const listOptionsOf = (ctx: Context, verb: 'list' | 'watch'): ListOptions | undefined => {
    const parsed = parseListOptions(rawQueryOf(ctx), verb);
    if (!parsed.ok) {
      if (parsed.invalid) send(ctx, invalidStatus('meta.k8s.io', 'ListOptions', '', parsed.invalid));
      else badRequest(ctx, parsed.message);
      return undefined;
    }
    return parsed.options;
  };

  /**
   * The objects a list or watch may show: in the authorized namespace ('' = all), matching the selectors, and, when
   * RequestInfo narrowed the name (from `fieldSelector=metadata.name=` or a `/watch/.../name` path), that name only.
   */
  const visible = (info: RequestInfo, options: ListOptions) => (w: Widget) =>
    (info.namespace === '' || w.metadata.namespace === info.namespace) &&
    (info.name === '' || w.metadata.name === info.name) &&
    matchesSelectors(w, options);

  /**
   * How a read answers (JSON or a meta.k8s.io Table, from Accept and `includeObject`); undefined means the 406 or
   * 422 was written.
   */
  const readFormatOf = (ctx: Context): { table?: { apiVersion: string; includeObject: IncludeObject } } | undefined => {
    const format = negotiateRead(ctx.get('accept') || undefined);
    if (format.kind === 'none') {
      send(
        ctx,
        statusFailure(
          406,
          'NotAcceptable',
          'only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1beta1;g=meta.k8s.io',
        ),
      );
      return undefined;
    }
    if (format.kind === 'json') return {};
    const includeObject = parseIncludeObject(goParseQuery(rawQueryOf(ctx)).get('includeObject'));
    if (typeof includeObject !== 'string') {
      send(ctx, invalidStatus('meta.k8s.io', 'TableOptions', '', [includeObject]));
      return undefined;
    }
    return { table: { apiVersion: format.apiVersion, includeObject } };
  };

  /**
   * Where a list continues (the storage layer's checks, after the handler's): undefined without `continue`, null
   * when the 400 was written. Go refuses a malformed token, and a token together with a resourceVersion other than
   * "0", with 400 BadRequest.
   */
  const continuePointOf = (ctx: Context, info: RequestInfo, options: ListOptions): ContinuePoint | undefined | null => {
    if (options.continue === undefined) return undefined;
    const decoded = decodeContinue(options.continue);
    const refusal = !decoded.ok
      ? `invalid continue token: ${decoded.error}`
      : options.resourceVersion !== undefined && options.resourceVersion !== 0
        ? 'specifying resource version is not allowed when using continue'
        : undefined;
    if (refusal === undefined && decoded.ok) return decoded.point;
    logger.info({ path: info.path, cause: refusal }, 'list refused: bad continue parameter');
    badRequest(ctx, refusal!);
    return null;
  };

  /** Go's 410 Expired `Status`; `continueToken` goes in its list metadata (a token to continue inconsistently). */
  const expired = (ctx: Context, message: string, continueToken?: string) =>
    send(ctx, {
      status: 410,
      headers: { 'content-type': 'application/json' },
      body:
        goJson({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: continueToken === undefined ? {} : { continue: continueToken },
          status: 'Failure',
          message,
          reason: 'Expired',
          code: 410,
        }) + '\n',
    });

  /**
   * Go's `NewTooLargeResourceVersionError` (504 Timeout, cause ResourceVersionTooLarge, Retry-After 1), without the
   * watch cache's 3 s wait: this store is the source of truth, so a revision it has not reached will not arrive.
   */
  const tooLargeResourceVersion = (ctx: Context, info: RequestInfo, requested: number) => {
    logger.info(
      { path: info.path, resourceVersion: requested, current: store.revision },
      'list refused: a resourceVersion this store has not reached',
    );
    send(
      ctx,
      statusFailure(
        504,
        'Timeout',
        `Timeout: Too large resource version: ${requested}, current: ${store.revision}`,
        {
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
          retryAfterSeconds: 1,
        },
        { 'retry-after': '1' },
      ),
    );
  };

  /**
   * A list, chunked by `limit` and `continue` as Go's etcd3 storage chunks it: in key order (`name` within a
   * namespace, `namespace/name` across namespaces), every chunk read at the revision of the first one. Which
   * revision is read follows Go: a continue token's (its rv < 0: the current one); with `resourceVersionMatch=Exact`,
   * or a `limit` with a `resourceVersion` (Go's legacy exact match), that revision; otherwise the current state. A
   * revision that has left the event history (etcd's compaction) is 410 Expired, a revision not reached yet 504.
   */
  const listWidgets = (ctx: Context, info: RequestInfo) => {
    const options = listOptionsOf(ctx, 'list');
    if (!options) return;
    const format = readFormatOf(ctx);
    if (!format) return;
    const point = continuePointOf(ctx, info, options);
    if (point === null) return;
    const requested = options.resourceVersion ?? 0;
    let readAt: number | undefined;
    if (point) {
      if (point.resourceVersion > 0) readAt = point.resourceVersion;
    } else if (requested > 0) {
      if (requested > store.revision) return tooLargeResourceVersion(ctx, info, requested);
      const exact =
        options.resourceVersionMatch === 'Exact' ||
        (options.resourceVersionMatch === undefined && (options.limit ?? 0) > 0);
      if (exact) readAt = requested;
    }
    let revision = store.revision;
    let all: Widget[];
    if (readAt === undefined) all = store.list(info.namespace);
    else {
      if (readAt > store.revision) return tooLargeResourceVersion(ctx, info, readAt);
      const snapshot = store.listAt(info.namespace, readAt);
      if (!snapshot) {
        logger.info(
          { path: info.path, resourceVersion: readAt, current: revision },
          'list refused: the requested revision has left the event history',
        );
        return point
          ? expired(ctx, inconsistentContinueMessage, encodeContinue(point.startKey, -1))
          : expired(ctx, 'The resourceVersion for the provided list is too old.');
      }
      revision = readAt;
      all = snapshot;
    }
    const chunk = chunkList(
      all.filter(visible(info, options)),
      (w) => (info.namespace === '' ? `${w.metadata.namespace}/${w.metadata.name}` : w.metadata.name),
      {
        ...(point ? { startKey: point.startKey } : {}),
        ...(options.limit !== undefined ? { limit: options.limit } : {}),
        resourceVersion: revision,
        // Go counts what remains only when no selector filters the list (the namespace is the key prefix).
        countRemaining: options.fieldSelector.length === 0 && options.labelSelector.length === 0,
      },
    );
    const metadata = {
      resourceVersion: String(revision),
      ...(chunk.continue !== undefined ? { continue: chunk.continue } : {}),
      ...(chunk.remainingItemCount !== undefined ? { remainingItemCount: chunk.remainingItemCount } : {}),
    };
    if (format.table) return sendJson(ctx, 200, widgetTable(chunk.items, { ...format.table, ...metadata }));
    sendJson(ctx, 200, { kind: 'WidgetList', apiVersion: sampleGroupVersion, metadata, items: chunk.items });
  };

  /**
   * A watch stream as Go's `serveWatch` writes it for JSON: 200, chunked `application/json`, one
   * `{"type":...,"object":...}` line per event. Events for objects that stop matching are not translated into
   * DELETED (Go's watch cache does that for selector changes; kubectl does not rely on it).
   */
  const watchWidgets = (ctx: Context, info: RequestInfo) => {
    const options = listOptionsOf(ctx, 'watch');
    if (!options) return;
    const format = readFormatOf(ctx);
    if (!format) return;
    const table = format.table;
    const matches = visible(info, options);
    const res = ctx.res;
    let ended = false;
    const seconds =
      options.timeoutSeconds !== undefined && options.timeoutSeconds > 0
        ? options.timeoutSeconds
        : minRequestTimeoutSeconds * (1 + Math.random());
    // Armed first so every exit path below can clear it; it fires only after this function returned.
    const timer = setTimeout(() => end(), Math.min(seconds * 1000, maxTimerMs));
    const writeEvent = (type: string, object: unknown) => {
      if (ended) return;
      res.write(goJson({ type, object }) + '\n');
      if (res.writableLength > maxWatchBacklogBytes) {
        logger.warn({ path: info.path, backlog: res.writableLength }, 'watch ended: the client is not reading');
        end();
      }
    };
    const listener = (e: StoreEvent) => {
      // With a Table, each event carries a one-row Table of the object, as Go's watch does for `as=Table`.
      if (matches(e.object)) writeEvent(e.type, table ? widgetTable([e.object], table) : e.object);
    };
    const start = store.watch(options.resourceVersion, listener);
    let removeCloseHook = () => {};
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      if (start.ok) start.stop();
      removeCloseHook();
      res.end();
    };
    ctx.respond = false;
    ctx.status = 200;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    if (!start.ok) {
      // Go answers an expired resourceVersion inside the stream: one ERROR event carrying a 410 Status.
      writeEvent('ERROR', {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: start.expired,
        reason: 'Expired',
        code: 410,
      });
      end();
      return;
    }
    res.once('close', end);
    // A client gone before the listener was attached would otherwise leave the watcher registered forever.
    if (res.destroyed) return end();
    removeCloseHook = store.onClose(end);
    for (const e of start.initial) listener(e);
  };

  /**
   * `fieldValidation` of Create/Update/PatchOptions; undefined means the 422 was written. Go's default is Warn.
   */
  const fieldValidationOf = (ctx: Context, optionsKind: string): FieldValidation | undefined => {
    const values = goParseQuery(rawQueryOf(ctx)).get('fieldValidation') ?? [];
    const v = values[0] ?? '';
    if (v === '') return 'Warn';
    if (v === 'Ignore' || v === 'Warn' || v === 'Strict') return v;
    send(
      ctx,
      invalidStatus('meta.k8s.io', optionsKind, '', [
        {
          type: 'FieldValueNotSupported',
          field: 'fieldValidation',
          message: `Unsupported value: ${goQuote(v)}: supported values: "Ignore", "Strict", "Warn"`,
        },
      ]),
    );
    return undefined;
  };

  /**
   * Fields the Widget schema does not declare are dropped by the store; Go says so per `fieldValidation`: a
   * `Warning: 299` header each (Warn), nothing (Ignore), or 400 before anything is written (Strict). False means the
   * 400 was written.
   */
  const checkUnknownFields = (ctx: Context, body: Record<string, unknown>, mode: FieldValidation): boolean => {
    const unknown = unknownFields(body);
    if (unknown.length === 0 || mode === 'Ignore') return true;
    if (mode === 'Strict') {
      badRequest(
        ctx,
        `Widget in version "${sampleVersion}" cannot be handled as a Widget: strict decoding error: ${unknown.map((f) => `unknown field ${goQuote(f)}`).join(', ')}`,
      );
      return false;
    }
    for (const f of unknown) ctx.append('warning', `299 - ${goQuote(`unknown field ${goQuote(f)}`)}`);
    return true;
  };

  /** The write options every create/update/patch reads first; undefined means the 422 was written. */
  const writeOptionsOf = (ctx: Context, optionsKind: string) => {
    const dryRun = dryRunOf(ctx, optionsKind);
    if (dryRun === undefined) return undefined;
    const validation = fieldValidationOf(ctx, optionsKind);
    if (validation === undefined) return undefined;
    return { dryRun, validation };
  };

  const createWidget = async (ctx: Context, info: RequestInfo) => {
    const options = writeOptionsOf(ctx, 'CreateOptions');
    if (!options) return;
    const body = await readJson(ctx, maxBody, true);
    if (!body || !checkTypeMeta(ctx, body, 'Widget') || !checkUnknownFields(ctx, body, options.validation)) return;
    const r = store.create(info.namespace, body, { dryRun: options.dryRun });
    if (r.ok) return sendJson(ctx, 201, r.widget);
    writeFailed(ctx, r);
  };

  const getWidget = (ctx: Context, info: RequestInfo) => {
    const format = readFormatOf(ctx);
    if (!format) return;
    const w = store.get(info.namespace, info.name);
    if (!w) return widgetNotFound(ctx, info.name);
    sendJson(ctx, 200, format.table ? widgetTable([w], format.table) : w);
  };

  /** PUT: the whole object; `metadata.resourceVersion` in it is a precondition (409 Conflict when stale). */
  const updateWidget = async (ctx: Context, info: RequestInfo) => {
    const options = writeOptionsOf(ctx, 'UpdateOptions');
    if (!options) return;
    const body = await readJson(ctx, maxBody, true);
    if (!body || !checkTypeMeta(ctx, body, 'Widget') || !checkUnknownFields(ctx, body, options.validation)) return;
    const r = store.update(info.namespace, info.name, body, { dryRun: options.dryRun });
    if (r.ok) return sendJson(ctx, 200, r.widget);
    writeFailed(ctx, r);
  };

  /**
   * PATCH, in the formats Go accepts for a custom resource: JSON merge patch (what kubectl label/annotate/edit and
   * client-side apply send for this type, since its OpenAPI `consumes` has no strategic merge patch), JSON patch,
   * and an apply configuration (server-side apply: creates the widget when it does not exist; a later apply by the
   * same `fieldManager` removes the labels, annotations and spec fields it no longer applies, unless another writer
   * changed them since. Simpler than Go: no managedFields and no conflicts between managers). Strategic merge patch
   * is refused with 415, as Go refuses it for custom resources. The patched object is then an update: validated
   * (422), with its `metadata.resourceVersion` as the precondition (409 when a patch sets a stale one).
   */
  const patchWidget = async (ctx: Context, info: RequestInfo) => {
    const options = writeOptionsOf(ctx, 'PatchOptions');
    if (!options) return;
    const query = goParseQuery(rawQueryOf(ctx));
    const manager = query.get('fieldManager')?.[0] ?? '';
    const force = query.get('force')?.[0];
    // An apply configuration is YAML (JSON is YAML too): read as text; the patches are JSON.
    const mediaType = mediaTypeOf(ctx.get('content-type'));
    const isApply = mediaType === 'application/apply-patch+yaml';
    let applyText = '';
    let patch: unknown;
    if (isApply) {
      const r = await readRequestBody(ctx.req, { limit: maxBody, mediaTypes: widgetPatchTypes });
      if (!r.ok) return bodyRefused(ctx, r.failure);
      applyText = r.text;
    } else {
      const r = await readJsonBody(ctx.req, {
        limit: maxBody,
        mediaTypes: widgetPatchTypes,
        maxDepth: maxJsonDepth,
        requireObject: mediaType !== 'application/json-patch+json',
      });
      if (!r.ok) return bodyRefused(ctx, r.failure);
      patch = r.value;
    }
    const patchOptionErrors: FieldError[] = [];
    if (isApply && manager === '') {
      patchOptionErrors.push({
        type: 'FieldValueRequired',
        field: 'fieldManager',
        message: 'Required value: is required for apply patch',
      });
    }
    if (!isApply && force !== undefined) {
      patchOptionErrors.push({
        type: 'FieldValueForbidden',
        field: 'force',
        message: 'Forbidden: may not be specified for non-apply patch',
      });
    }
    if (patchOptionErrors.length > 0) {
      return send(ctx, invalidStatus('meta.k8s.io', 'PatchOptions', '', patchOptionErrors));
    }
    const current = store.get(info.namespace, info.name);
    let patched: unknown;
    /** The apply configuration, recorded for the manager once the write succeeded. */
    let applied: Record<string, unknown> | undefined;
    switch (mediaType) {
      case 'application/merge-patch+json': {
        if (!current) return widgetNotFound(ctx, info.name);
        patched = mergePatch(current, patch);
        break;
      }
      case 'application/json-patch+json': {
        if (!Array.isArray(patch)) return badRequest(ctx, 'the request body must be a JSON array');
        if (!current) return widgetNotFound(ctx, info.name);
        const r = applyJsonPatch(current, patch);
        if (!r.ok) {
          // Go: a patch that cannot be decoded is a 400; one that does not apply to the object a 422.
          return send(
            ctx,
            r.malformed ? statusFailure(400, 'BadRequest', r.message) : statusFailure(422, 'Invalid', r.message),
          );
        }
        patched = r.value;
        break;
      }
      default: {
        const r = parseApplyConfiguration(applyText);
        if (!r.ok) return badRequest(ctx, r.message);
        if (dataDepth(r.value) > maxJsonDepth) {
          return badRequest(ctx, `the request body nests deeper than ${maxJsonDepth} levels`);
        }
        const config = r.value as Record<string, unknown>;
        if (config.apiVersion === undefined || config.kind === undefined) {
          return badRequest(ctx, 'an apply configuration must set apiVersion and kind');
        }
        if (!checkTypeMeta(ctx, config, 'Widget') || !checkUnknownFields(ctx, config, options.validation)) return;
        const meta = (config.metadata ?? {}) as Record<string, unknown>;
        if (typeof meta.name === 'string' && meta.name !== '' && meta.name !== info.name) {
          return badRequest(
            ctx,
            `the name of the object (${meta.name}) does not match the name on the URL (${info.name})`,
          );
        }
        if (!current) {
          // Server-side apply creates what does not exist (authorized as patch, as in Go).
          const created = store.create(
            info.namespace,
            { ...config, metadata: { ...meta, name: info.name } },
            { dryRun: options.dryRun },
          );
          if (!created.ok) return writeFailed(ctx, created);
          if (!options.dryRun) store.recordApplied(created.widget, manager, config);
          return sendJson(ctx, 201, created.widget);
        }
        // Fields this manager applied before and no longer applies are removed (when nobody changed them since).
        const previous = store.lastApplied(current.metadata.uid, manager);
        patched = mergePatch(previous ? removeUnapplied(current, previous, config) : current, config);
        applied = config;
        break;
      }
    }
    if (!isPlainObject(patched)) return badRequest(ctx, 'the patched object must be a JSON object');
    if (!checkTypeMeta(ctx, patched, 'Widget')) return;
    if (!isApply && !checkUnknownFields(ctx, patched, options.validation)) return;
    const r = store.update(info.namespace, info.name, patched, { dryRun: options.dryRun });
    if (!r.ok) return writeFailed(ctx, r);
    if (applied && !options.dryRun) store.recordApplied(r.widget, manager, applied);
    sendJson(ctx, 200, r.widget);
  };

  /**
   * DELETE: DeleteOptions come in the body (what kubectl and client-go send, `dryRun` included) or in the query.
   * Go reads only the body when there is one; here a dry run asked for in either place is honoured (both are
   * validated), so a stray empty body can never turn `?dryRun=All` into a real deletion. Preconditions (uid,
   * resourceVersion) are checked as Go does.
   */
  const deleteWidget = async (ctx: Context, info: RequestInfo) => {
    const queryDryRun = dryRunOf(ctx, 'DeleteOptions');
    if (queryDryRun === undefined) return;
    const options = await readJson(ctx, maxBody, false);
    if (!options) return;
    const { kind, apiVersion, dryRun: bodyDryRun, preconditions } = options;
    if (
      (kind !== undefined && kind !== 'DeleteOptions') ||
      !['v1', 'meta.k8s.io/v1', undefined].includes(apiVersion as string)
    ) {
      return badRequest(
        ctx,
        `the API version in the data (${String(apiVersion ?? '')}) or kind (${String(kind ?? '')}) does not match the expected meta.k8s.io/v1, Kind=DeleteOptions`,
      );
    }
    if (
      bodyDryRun !== undefined &&
      bodyDryRun !== null &&
      !(Array.isArray(bodyDryRun) && bodyDryRun.every((v) => typeof v === 'string'))
    ) {
      return badRequest(ctx, 'DeleteOptions.dryRun must be an array of strings');
    }
    const fromBody = checkDryRun((bodyDryRun as string[] | null | undefined) ?? []);
    if (!fromBody.ok) return send(ctx, invalidStatus('meta.k8s.io', 'DeleteOptions', '', [fromBody.error]));
    const current = store.get(info.namespace, info.name);
    if (!current) return widgetNotFound(ctx, info.name);
    const pre = (preconditions ?? {}) as { uid?: unknown; resourceVersion?: unknown };
    const failed =
      typeof pre.uid === 'string' && pre.uid !== current.metadata.uid
        ? `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`
        : typeof pre.resourceVersion === 'string' && pre.resourceVersion !== current.metadata.resourceVersion
          ? `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion ?? ''}`
          : undefined;
    if (failed) {
      return send(
        ctx,
        statusFailure(
          409,
          'Conflict',
          `Operation cannot be fulfilled on widgets.${sampleGroup} ${goQuote(info.name)}: ${failed}`,
          {
            name: info.name,
            group: sampleGroup,
            kind: 'widgets',
          },
        ),
      );
    }
    const w = store.delete(info.namespace, info.name, { dryRun: queryDryRun || fromBody.dryRun });
    if (!w) return widgetNotFound(ctx, info.name);
    sendJson(ctx, 200, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: w.metadata.name, group: sampleGroup, kind: 'widgets', uid: w.metadata.uid },
    });
  };

  const createSelfSubjectReview = async (ctx: Context) => {
    const body = await readJson(ctx, maxBody, false);
    if (!body || !checkTypeMeta(ctx, body, 'SelfSubjectReview')) return;
    const user = userOf(ctx);
    if (!user) {
      logger.error({ path: ctx.path }, 'no user on the request: the pipeline has no authenticate() middleware');
      return send(ctx, internalError(ctx.originalUrl, 'no user on request.'));
    }
    sendJson(ctx, 201, {
      kind: 'SelfSubjectReview',
      apiVersion: sampleGroupVersion,
      metadata: { creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      status: { userInfo: userInfoJson(user) },
    });
  };

  /**
   * Widgets, by the authorized verb. `parts` after the namespace: [widgets] (collection) or [widgets, name]. The
   * verbs handled here are discovery's `widgetVerbs`; widgets.spec.ts checks each advertised verb is served.
   */
  const serveWidgets = (ctx: Context, info: RequestInfo): Promise<void> | void => {
    const item = info.parts.length === 2;
    // A namespaced resource has no cluster-scoped item path (Go registers none: 404).
    if (item && info.namespace === '') return notFound(ctx);
    // HEAD gets what GET gets, except a stream that would never end.
    const read = ctx.method === 'GET' || ctx.method === 'HEAD';
    switch (info.verb) {
      case 'list':
        return read && !item ? listWidgets(ctx, info) : methodNotAllowed(ctx);
      case 'watch':
        // `/watch/...` paths resolve to watch whatever the method; Go registers them for GET only.
        return ctx.method === 'GET' ? watchWidgets(ctx, info) : methodNotAllowed(ctx);
      // Each write is served only for the method its verb comes from, so the handler run is the verb authorized.
      case 'create':
        return !item && info.namespace !== '' && ctx.method === 'POST'
          ? createWidget(ctx, info)
          : methodNotAllowed(ctx);
      case 'get':
        return item && read ? getWidget(ctx, info) : methodNotAllowed(ctx);
      case 'update':
        return item && ctx.method === 'PUT' ? updateWidget(ctx, info) : methodNotAllowed(ctx);
      case 'patch':
        return item && ctx.method === 'PATCH' ? patchWidget(ctx, info) : methodNotAllowed(ctx);
      case 'delete':
        return item && ctx.method === 'DELETE' ? deleteWidget(ctx, info) : methodNotAllowed(ctx);
      default:
        // deletecollection and anything else: not served, and not advertised in discovery.
        return methodNotAllowed(ctx);
    }
  };

  const router: Middleware = async function sampleRoutes(ctx) {
    let info = (ctx.state as { requestInfo?: RequestInfo }).requestInfo;
    if (!info) {
      const resolved = requestInfoStep(ctx.method, ctx.req.url ?? ctx.url, {}, logger);
      if (!resolved.ok) {
        if (resolved.closeConnection) ctx.set('connection', 'close');
        return send(ctx, resolved.response);
      }
      info = resolved.info;
    }
    if (!info.isResourceRequest) {
      // The blocks see the path RequestInfo resolved (the one authorized), with the request's query and headers.
      const rawQuery = rawQueryOf(ctx);
      const url = rawQuery === '' ? info.path : `${info.path}?${rawQuery}`;
      const answer = await blocks({ method: ctx.method, url, headers: ctx.headers });
      if (answer) return send(ctx, answer);
      if (info.path !== '/') return notFound(ctx);
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return methodNotAllowed(ctx);
      return sendJson(ctx, 200, rootPaths());
    }
    if (info.apiPrefix !== 'apis' || info.apiGroup !== sampleGroup || info.apiVersion !== sampleVersion) {
      return notFound(ctx);
    }
    if (info.parts.length === 0 || info.parts.length > 2) return notFound(ctx); // no subresources
    if (info.resource === 'widgets') return serveWidgets(ctx, info);
    if (info.resource === 'selfsubjectreviews' && info.namespace === '' && info.parts.length === 1) {
      return info.verb === 'create' ? createSelfSubjectReview(ctx) : methodNotAllowed(ctx);
    }
    return notFound(ctx);
  };

  const recover: Middleware = async function recoverPanics(ctx, next) {
    try {
      await next();
    } catch (err) {
      // Go's WithPanicRecovery: log the cause, answer a generic 500 in the apiserver's format.
      logger.error({ path: ctx.path, error: (err as Error).message }, 'request handler failed');
      if (ctx.respond === false) {
        ctx.res.destroy();
        return;
      }
      send(ctx, internalError(ctx.originalUrl, 'an error on the server prevented the request from succeeding'));
    }
  };

  const app = new Koa();
  // Client aborts under load are normal; everything else is logged by recover().
  app.silent = true;
  app.use(recover);
  for (const m of opts.pipeline) app.use(m);
  app.use(router);
  return app;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
