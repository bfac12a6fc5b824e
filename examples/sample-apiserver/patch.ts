/**
 * The patch formats the sample accepts, as Go's apiserver applies them to a custom resource: JSON merge patch
 * (RFC 7386), JSON patch (RFC 6902), and apply configurations (YAML or JSON). Every object built here is a plain
 * data object: keys such as `__proto__` stay own properties and never reach a prototype.
 */
import { parse as parseYaml } from 'yaml';

/** Go's `maxJSONPatchOperations`: a JSON patch with more operations is refused (400). */
export const maxJsonPatchOperations = 10000;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Sets an own, enumerable property even for keys like `__proto__`. */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** A deep copy made of plain objects and arrays (JSON data only). */
export function cloneJson<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneJson) as T;
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) setOwn(out, k, cloneJson(val));
    return out as T;
  }
  return v;
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return cloneJson(patch);
  const out: Record<string, unknown> = {};
  if (isObject(target)) for (const [k, v] of Object.entries(target)) setOwn(out, k, v);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setOwn(out, k, mergePatch(hasOwn(out, k) ? out[k] : undefined, v));
  }
  return out;
}

export type PatchResult =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string };

/** RFC 6901 pointer → reference tokens; undefined when malformed. */
function parsePointer(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return undefined;
  const tokens = pointer.slice(1).split('/');
  if (tokens.some((t) => /~[^01]|~$/.test(t))) return undefined;
  return tokens.map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(token: string, length: number, forAdd: boolean): number | undefined {
  if (forAdd && token === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
  const i = Number(token);
  return i <= (forAdd ? length : length - 1) ? i : undefined;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * RFC 6902 JSON patch on a copy of `doc`. Errors name the operation and path as evanphx/json-patch (Go's library)
 * does in spirit; the caller answers them as Go does (400 for a malformed patch, 422 for one that does not apply).
 */
export function applyJsonPatch(doc: unknown, ops: unknown): PatchResult & { readonly malformed?: boolean } {
  if (!Array.isArray(ops))
    return { ok: false, malformed: true, message: 'a JSON patch must be a JSON array of operations' };
  if (ops.length > maxJsonPatchOperations) {
    return {
      ok: false,
      malformed: true,
      message: `The allowed maximum operations in a JSON patch is ${maxJsonPatchOperations}, got ${ops.length}`,
    };
  }
  let root = cloneJson(doc);
  for (const [i, raw] of ops.entries()) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      return { ok: false, malformed: true, message: `operation ${i}: "op" and "path" must be strings` };
    }
    const { op, path } = raw;
    const tokens = parsePointer(path);
    if (!tokens)
      return { ok: false, malformed: true, message: `operation ${i}: invalid JSON pointer ${JSON.stringify(path)}` };
    const fail = (why: string): PatchResult => ({ ok: false, message: `${op} operation does not apply: ${why}` });
    const needsValue = op === 'add' || op === 'replace' || op === 'test';
    if (needsValue && !hasOwn(raw, 'value')) {
      return { ok: false, malformed: true, message: `operation ${i} (${op}): missing "value"` };
    }
    let value: unknown = cloneJson(raw.value);
    if (op === 'move' || op === 'copy') {
      if (typeof raw.from !== 'string')
        return { ok: false, malformed: true, message: `operation ${i} (${op}): missing "from"` };
      const from = parsePointer(raw.from);
      if (!from)
        return {
          ok: false,
          malformed: true,
          message: `operation ${i}: invalid JSON pointer ${JSON.stringify(raw.from)}`,
        };
      if (op === 'move' && raw.from !== path && path.startsWith(raw.from + '/')) {
        return fail(`cannot move ${raw.from} into its own child ${path}`);
      }
      const got = getAt(root, from);
      if (!got.found) return fail(`"from" path ${JSON.stringify(raw.from)} does not exist`);
      value = cloneJson(got.value);
      if (op === 'move') {
        const removed = removeAt(root, from);
        if (!removed.ok) return fail(removed.message);
        root = removed.value;
      }
    }
    let r: PatchResult;
    switch (op) {
      case 'add':
      case 'move':
      case 'copy':
        r = addAt(root, tokens, value, false);
        break;
      case 'replace':
        r = addAt(root, tokens, value, true);
        break;
      case 'remove':
        r = removeAt(root, tokens);
        break;
      case 'test': {
        const got = getAt(root, tokens);
        r =
          got.found && deepEqual(got.value, value) ? { ok: true, value: root } : { ok: false, message: 'test failed' };
        if (!r.ok) return { ok: false, message: `testing value ${path} failed: test operation failed` };
        break;
      }
      default:
        return { ok: false, malformed: true, message: `Unexpected kind: ${op}` };
    }
    if (!r.ok) return fail(r.message);
    root = r.value;
  }
  return { ok: true, value: root };
}

function getAt(root: unknown, tokens: readonly string[]): { found: boolean; value?: unknown } {
  let cur = root;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      const i = arrayIndex(t, cur.length, false);
      if (i === undefined) return { found: false };
      cur = cur[i];
    } else if (isObject(cur) && hasOwn(cur, t)) cur = cur[t];
    else return { found: false };
  }
  return { found: true, value: cur };
}

/** The container of the last token, walked in place on `root` (already a private copy). */
function parentOf(root: unknown, tokens: readonly string[]): unknown {
  const got = getAt(root, tokens.slice(0, -1));
  return got.found ? got.value : undefined;
}

function addAt(root: unknown, tokens: readonly string[], value: unknown, replace: boolean): PatchResult {
  if (tokens.length === 0) return { ok: true, value };
  const parent = parentOf(root, tokens);
  const last = tokens[tokens.length - 1]!;
  const where = '/' + tokens.join('/');
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, !replace);
    if (i === undefined) return { ok: false, message: `index out of range at ${where}` };
    if (replace) parent[i] = value;
    else parent.splice(i, 0, value);
    return { ok: true, value: root };
  }
  if (!isObject(parent)) return { ok: false, message: `missing path ${where}` };
  if (replace && !hasOwn(parent, last)) return { ok: false, message: `missing path ${where}` };
  setOwn(parent, last, value);
  return { ok: true, value: root };
}

function removeAt(root: unknown, tokens: readonly string[]): PatchResult {
  if (tokens.length === 0) return { ok: false, message: 'cannot remove the whole document' };
  const parent = parentOf(root, tokens);
  const last = tokens[tokens.length - 1]!;
  const where = '/' + tokens.join('/');
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, false);
    if (i === undefined) return { ok: false, message: `index out of range at ${where}` };
    parent.splice(i, 1);
    return { ok: true, value: root };
  }
  if (!isObject(parent) || !hasOwn(parent, last)) return { ok: false, message: `missing path ${where}` };
  delete parent[last];
  return { ok: true, value: root };
}

/** Deepest nesting of parsed data, walked without recursion. */
export function dataDepth(v: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length > 0) {
    const [cur, d] = stack.pop()!;
    if (cur === null || typeof cur !== 'object') continue;
    max = Math.max(max, d + 1);
    for (const child of Object.values(cur)) stack.push([child, d + 1]);
  }
  return max;
}

/**
 * An apply configuration (`application/apply-patch+yaml`: YAML, of which JSON is a subset) as JSON data. Aliases
 * are capped (no "billion laughs"), duplicate keys refused, and values that JSON cannot carry (dates, binary) are
 * refused as Go's YAML-to-JSON conversion does.
 */
export function parseApplyConfiguration(text: string): PatchResult {
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { maxAliasCount: 100, uniqueKeys: true, schema: 'core', prettyErrors: false }) as Json;
  } catch (err) {
    // The parser recurses per level: a document nested deep enough exhausts the stack (caught, never a crash).
    const text = (err as Error).message ?? '';
    if (err instanceof RangeError || text.includes('call stack')) {
      return { ok: false, message: 'the request body nests too deeply' };
    }
    return { ok: false, message: `error decoding YAML: ${firstLine(text)}` };
  }
  if (!isObject(parsed))
    return { ok: false, message: 'error decoding YAML: the apply configuration must be an object' };
  return { ok: true, value: parsed };
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 200);
}

/** The subtrees server-side apply may remove fields from: what a user owns, never identity or type fields. */
const removableRoots: readonly (readonly string[])[] = [['metadata', 'labels'], ['metadata', 'annotations'], ['spec']];

/** Paths of the leaves (scalars, arrays, empty objects) under `v`, each as its keys from `v`. */
function leafPaths(v: unknown, prefix: readonly string[] = []): string[][] {
  if (!isObject(v) || Object.keys(v).length === 0) return [[...prefix]];
  return Object.entries(v).flatMap(([k, child]) => leafPaths(child, [...prefix, k]));
}

/**
 * Server-side apply's removal, for one manager: a field `previous` applied that `next` no longer has is removed from
 * `current`, if it still holds the value that was applied (a field changed since by another writer is theirs now,
 * and stays). Only under labels, annotations and spec. Returns a copy; `current` is not changed.
 */
export function removeUnapplied(
  current: unknown,
  previous: Readonly<Record<string, unknown>>,
  next: Readonly<Record<string, unknown>>,
): unknown {
  const out = cloneJson(current);
  for (const root of removableRoots) {
    const before = getAt(previous, root);
    if (!before.found) continue;
    const after = getAt(next, root);
    for (const leaf of leafPaths(before.value)) {
      const path = [...root, ...leaf];
      if (after.found && getAt(after.value, leaf).found) continue;
      const live = getAt(out, path);
      if (!live.found || !deepEqual(live.value, getAt(previous, path).value)) continue;
      removeAt(out, path);
      // A parent object left empty goes too, when the configuration no longer has it (Go removes the whole field).
      for (let i = path.length - 1; i > root.length; i--) {
        const parent = path.slice(0, i);
        const left = getAt(out, parent);
        if (!isObject(left.value) || Object.keys(left.value).length > 0 || getAt(next, parent).found) break;
        removeAt(out, parent);
      }
    }
  }
  return out;
}
