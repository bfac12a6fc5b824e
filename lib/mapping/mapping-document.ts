import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { UserInfo } from '../authn/interfaces.js';
import { InvalidOptionError } from '../errors.js';

/**
 * What an upstream authenticator established about a caller, before mapping. Every field is optional; a mapping whose
 * `match` or templates need a field the identity lacks does not apply.
 */
export interface Identity {
  /** The primary name the upstream knows (token file user, IAM ARN, OIDC `sub`, certificate CN, …). */
  readonly subject?: string;
  readonly username?: string;
  readonly uid?: string;
  /** Certificate subject common name. */
  readonly cn?: string;
  /** Certificate issuer or token issuer. */
  readonly issuer?: string;
  readonly groups?: readonly string[];
}

/** Identity fields usable in `match` (plus `group`: any of `groups`) and as `{{name}}` template variables. */
export const identityFields = ['subject', 'username', 'uid', 'cn', 'issuer'] as const;
export type IdentityField = (typeof identityFields)[number];

/** Prefix Kubernetes reserves for its own users and groups (`system:masters`, `system:node:…`). */
export const reservedPrefix = 'system:';

type TemplatePart = { readonly literal: string } | { readonly field: IdentityField };

interface Template {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
}

interface CompiledRule {
  readonly index: number;
  readonly match: readonly { readonly key: IdentityField | 'group'; readonly pattern: RegExp }[];
  readonly username: Template;
  readonly uid?: Template;
  readonly groups: readonly Template[];
  readonly extra: readonly { readonly key: string; readonly values: readonly Template[] }[];
  readonly allowReservedPrefixes: boolean;
}

/** A parsed, validated mapping document. Immutable. */
export interface MappingDocument {
  readonly rules: readonly CompiledRule[];
  /** Top-level `allowReservedPrefixes` (default false). */
  readonly allowReservedPrefixes: boolean;
  /** SHA-256 (hex, first 16) of the source text. */
  readonly digest: string;
}

export type MapOutcome =
  | { readonly ok: true; readonly user: UserInfo; readonly rule: number }
  | { readonly ok: false; readonly reason: string; readonly rule?: number };

const topKeys = new Set(['mappings', 'allowReservedPrefixes', 'allowEmpty']);
const ruleKeys = new Set(['match', 'username', 'uid', 'groups', 'extra', 'allowReservedPrefixes']);
const matchKeys = new Set<string>([...identityFields, 'group']);

/** `*` matches any run of characters (including none); everything else is literal. */
function compileGlob(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}

function compileTemplate(source: string, where: string, problems: string[]): Template {
  const parts: TemplatePart[] = [];
  const re = /\{\{\s*([^{}]*?)\s*\}\}/g;
  let last = 0;
  for (let m = re.exec(source); m !== null; m = re.exec(source)) {
    if (m.index > last) parts.push({ literal: source.slice(last, m.index) });
    const name = m[1]!;
    if (!(identityFields as readonly string[]).includes(name)) {
      problems.push(`${where}: unknown template variable {{${name}}} (known: ${identityFields.join(', ')})`);
    } else {
      parts.push({ field: name as IdentityField });
    }
    last = re.lastIndex;
  }
  if (last < source.length) parts.push({ literal: source.slice(last) });
  for (const p of parts) {
    if ('literal' in p && (p.literal.includes('{{') || p.literal.includes('}}'))) {
      problems.push(`${where}: unbalanced "{{" or "}}" in template ${JSON.stringify(source)}`);
      break;
    }
  }
  return { source, parts };
}

/** The constant prefix of a template, to refuse `system:` literals at load time rather than per request. */
function literalPrefix(t: Template): string {
  const first = t.parts[0];
  return first && 'literal' in first ? first.literal : '';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and validates a YAML or JSON mapping document. Throws `InvalidOptionError` listing every problem found,
 * so one broken edit is reported completely.
 */
export function parseMappingDocument(text: string): MappingDocument {
  const problems: string[] = [];
  if (text.trim() === '') throw new InvalidOptionError(['mapping document is empty']);
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new InvalidOptionError([`mapping document is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (!isPlainObject(raw)) throw new InvalidOptionError(['mapping document must be an object with a "mappings" list']);
  for (const k of Object.keys(raw)) if (!topKeys.has(k)) problems.push(`unknown field ${JSON.stringify(k)}`);
  const topAllow = raw.allowReservedPrefixes ?? false;
  if (typeof topAllow !== 'boolean') problems.push('allowReservedPrefixes must be a boolean');
  const allowEmpty = raw.allowEmpty ?? false;
  if (typeof allowEmpty !== 'boolean') problems.push('allowEmpty must be a boolean');
  const list = raw.mappings;
  const rules: CompiledRule[] = [];
  if (!Array.isArray(list)) {
    problems.push('mappings must be a list');
  } else {
    // A document that maps nobody is almost always a bad edit (aws-iam-authenticator #607); it must be explicit.
    if (list.length === 0 && allowEmpty !== true) problems.push('mappings is empty (set allowEmpty: true to mean it)');
    list.forEach((entry, index) => {
      const rule = compileRule(entry, index, topAllow === true, problems);
      if (rule) rules.push(rule);
    });
  }
  if (problems.length > 0) throw new InvalidOptionError(problems);
  return {
    rules,
    allowReservedPrefixes: topAllow === true,
    digest: createHash('sha256').update(text).digest('hex').slice(0, 16),
  };
}

function compileRule(entry: unknown, index: number, topAllow: boolean, problems: string[]): CompiledRule | undefined {
  const at = `mappings[${index}]`;
  if (!isPlainObject(entry)) {
    problems.push(`${at}: must be an object`);
    return undefined;
  }
  const before = problems.length;
  for (const k of Object.keys(entry)) if (!ruleKeys.has(k)) problems.push(`${at}: unknown field ${JSON.stringify(k)}`);
  const allow = entry.allowReservedPrefixes ?? topAllow;
  if (typeof allow !== 'boolean') problems.push(`${at}.allowReservedPrefixes must be a boolean`);
  const match: { key: IdentityField | 'group'; pattern: RegExp }[] = [];
  if (!isPlainObject(entry.match)) {
    problems.push(`${at}.match must be an object`);
  } else {
    for (const [k, v] of Object.entries(entry.match)) {
      if (!matchKeys.has(k))
        problems.push(`${at}.match: unknown field ${JSON.stringify(k)} (known: ${[...matchKeys].join(', ')})`);
      else if (typeof v !== 'string' || v === '') problems.push(`${at}.match.${k} must be a non-empty string`);
      else match.push({ key: k as IdentityField | 'group', pattern: compileGlob(v) });
    }
    if (Object.keys(entry.match).length === 0) problems.push(`${at}.match must name at least one field`);
  }
  const reserved = (t: Template, where: string) => {
    if (allow !== true && literalPrefix(t).startsWith(reservedPrefix)) {
      problems.push(
        `${where}: ${JSON.stringify(t.source)} uses the reserved prefix "${reservedPrefix}" (set allowReservedPrefixes)`,
      );
    }
  };
  let username: Template | undefined;
  if (typeof entry.username !== 'string' || entry.username === '') {
    problems.push(`${at}.username must be a non-empty string`);
  } else {
    username = compileTemplate(entry.username, `${at}.username`, problems);
    reserved(username, `${at}.username`);
  }
  let uid: Template | undefined;
  if (entry.uid !== undefined) {
    if (typeof entry.uid !== 'string') problems.push(`${at}.uid must be a string`);
    else uid = compileTemplate(entry.uid, `${at}.uid`, problems);
  }
  const groups: Template[] = [];
  if (entry.groups !== undefined) {
    if (!Array.isArray(entry.groups)) problems.push(`${at}.groups must be a list of strings`);
    else
      entry.groups.forEach((g, i) => {
        if (typeof g !== 'string' || g === '') problems.push(`${at}.groups[${i}] must be a non-empty string`);
        else {
          const t = compileTemplate(g, `${at}.groups[${i}]`, problems);
          reserved(t, `${at}.groups[${i}]`);
          groups.push(t);
        }
      });
  }
  const extra: { key: string; values: Template[] }[] = [];
  if (entry.extra !== undefined) {
    if (!isPlainObject(entry.extra)) problems.push(`${at}.extra must map keys to lists of strings`);
    else
      for (const [key, values] of Object.entries(entry.extra)) {
        if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) {
          problems.push(`${at}.extra.${key} must be a list of strings`);
        } else {
          extra.push({ key, values: values.map((v: string) => compileTemplate(v, `${at}.extra.${key}`, problems)) });
        }
      }
  }
  if (problems.length > before || !username) return undefined;
  return { index, match, username, ...(uid ? { uid } : {}), groups, extra, allowReservedPrefixes: allow === true };
}

function fieldOf(identity: Identity, key: IdentityField): string | undefined {
  const v = identity[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function expand(t: Template, identity: Identity): string | undefined {
  let out = '';
  for (const p of t.parts) {
    if ('literal' in p) out += p.literal;
    else {
      const v = fieldOf(identity, p.field);
      if (v === undefined) return undefined;
      out += v;
    }
  }
  return out;
}

function matches(rule: CompiledRule, identity: Identity): boolean {
  return rule.match.every(({ key, pattern }) => {
    if (key === 'group') return (identity.groups ?? []).some((g) => pattern.test(g));
    const v = fieldOf(identity, key);
    return v !== undefined && pattern.test(v);
  });
}

/**
 * Applies the first rule whose `match` fits. Refuses (no fall-through to later rules) when a template needs a field
 * the identity lacks or expands into a reserved `system:` name without permission: an expanded `{{subject}}` of
 * `system:masters` must never become a group.
 */
export function applyMapping(doc: MappingDocument, identity: Identity): MapOutcome {
  const rule = doc.rules.find((r) => matches(r, identity));
  if (!rule) return { ok: false, reason: 'no mapping matches' };
  const refuse = (reason: string): MapOutcome => ({ ok: false, reason, rule: rule.index });
  const name = expand(rule.username, identity);
  if (name === undefined || name === '')
    return refuse(`username template ${JSON.stringify(rule.username.source)} has no value`);
  if (!rule.allowReservedPrefixes && name.startsWith(reservedPrefix)) {
    return refuse(`username ${JSON.stringify(name)} has the reserved prefix "${reservedPrefix}"`);
  }
  let uid = '';
  if (rule.uid) {
    const v = expand(rule.uid, identity);
    if (v === undefined) return refuse(`uid template ${JSON.stringify(rule.uid.source)} has no value`);
    uid = v;
  }
  const groups: string[] = [];
  for (const t of rule.groups) {
    const g = expand(t, identity);
    if (g === undefined) return refuse(`group template ${JSON.stringify(t.source)} has no value`);
    if (!rule.allowReservedPrefixes && g.startsWith(reservedPrefix)) {
      return refuse(`group ${JSON.stringify(g)} has the reserved prefix "${reservedPrefix}"`);
    }
    if (!groups.includes(g)) groups.push(g);
  }
  const extra: Record<string, string[]> = {};
  for (const { key, values } of rule.extra) {
    const out: string[] = [];
    for (const t of values) {
      const v = expand(t, identity);
      if (v === undefined) return refuse(`extra.${key} template ${JSON.stringify(t.source)} has no value`);
      out.push(v);
    }
    extra[key] = out;
  }
  return { ok: true, user: { name, uid, groups, extra }, rule: rule.index };
}
