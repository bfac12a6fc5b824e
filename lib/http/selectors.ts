// Go's label and field selector parsers (k8s.io/apimachinery labels.Parse, fields.ParseSelector), ported as one unit.
// Longer than ~350 lines because the lexer, the parser and Go's exact error messages belong together (review §3.1).
import type { SelectorRequirement } from '../authz/interfaces.js';

/** A parsed field selector term (Go `fields.Requirement`): `=` and `==` both become `=`. */
export interface FieldRequirement {
  readonly field: string;
  readonly operator: '=' | '!=';
  readonly value: string;
}

/** A parsed label selector requirement (Go `labels.Requirement`); values sorted and de-duplicated. */
export interface LabelRequirement {
  readonly key: string;
  readonly operator: '=' | '==' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';
  readonly values: readonly string[];
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

// ---------------------------------------------------------------------------------------------------------------
// Field selectors: k8s.io/apimachinery/pkg/fields/selector.go
// ---------------------------------------------------------------------------------------------------------------

function splitTerms(selector: string): string[] {
  if (selector === '') return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

// `!=` and `==` are tried before `=` at each position, so `a==b` never leaves `=b` as the value.
function splitTerm(term: string): [string, '!=' | '==' | '=', string] | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '='] as const) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

function unescapeFieldValue(s: string): ParseResult<string> {
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=')
        return { ok: false, error: `invalid field selector: invalid escape sequence: \\${c}` };
      out += c;
      inSlash = false;
    } else if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=')
      return { ok: false, error: `invalid field selector: unescaped character ${JSON.stringify(c)}` };
    else out += c;
  }
  if (inSlash) return { ok: false, error: 'invalid field selector: invalid escape sequence: \\' };
  return { ok: true, value: out };
}

/** Go's `fields.ParseSelector`: comma-separated `key=value`, `key==value`, `key!=value`; terms sorted. */
export function parseFieldSelector(selector: string): ParseResult<readonly FieldRequirement[]> {
  const parts = splitTerms(selector).sort(byteCompare);
  const out: FieldRequirement[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const t = splitTerm(part);
    if (!t) return { ok: false, error: `invalid selector: '${selector}'; can't understand '${part}'` };
    const v = unescapeFieldValue(t[2]);
    if (!v.ok) return v;
    out.push({ field: t[0], operator: t[1] === '!=' ? '!=' : '=', value: v.value });
  }
  return { ok: true, value: out };
}

/** Go's `Selector.RequiresExactMatch(field)`: the value of the first `field=value` term. */
export function requiresExactMatch(reqs: readonly FieldRequirement[], field: string): string | undefined {
  return reqs.find((r) => r.operator === '=' && r.field === field)?.value;
}

// ---------------------------------------------------------------------------------------------------------------
// Label selectors: k8s.io/apimachinery/pkg/labels/selector.go (lexer + parser + NewRequirement validation)
// ---------------------------------------------------------------------------------------------------------------

type Tok = 'error' | 'eos' | ')' | ',' | '!' | '==' | '=' | '>' | 'id' | 'in' | '<' | '!=' | 'notin' | '(';

const string2token: Readonly<Record<string, Tok>> = {
  ')': ')',
  ',': ',',
  '!': '!',
  '==': '==',
  '=': '=',
  '>': '>',
  in: 'in',
  '<': '<',
  '!=': '!=',
  notin: 'notin',
  '(': '(',
};

const isWhitespace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isSpecial = (c: string) => '=!(),><'.includes(c);

function lex(s: string): { tok: Tok; lit: string }[] {
  const items: { tok: Tok; lit: string }[] = [];
  let i = 0;
  for (;;) {
    while (i < s.length && isWhitespace(s[i]!)) i++;
    if (i >= s.length) {
      items.push({ tok: 'eos', lit: '' });
      return items;
    }
    if (isSpecial(s[i]!)) {
      let buffer = '';
      let last: { tok: Tok; lit: string } | undefined;
      while (i < s.length && isSpecial(s[i]!)) {
        const candidate = buffer + s[i];
        const tok = Object.hasOwn(string2token, candidate) ? string2token[candidate] : undefined;
        if (tok) {
          buffer = candidate;
          last = { tok, lit: candidate };
          i++;
        } else if (last) {
          break;
        } else {
          buffer = candidate;
          i++;
        }
      }
      if (!last) {
        items.push({ tok: 'error', lit: `error expected: keyword found '${buffer}'` });
        items.push({ tok: 'eos', lit: '' });
        return items;
      }
      items.push(last);
      continue;
    }
    let j = i;
    while (j < s.length && !isWhitespace(s[j]!) && !isSpecial(s[j]!)) j++;
    const word = s.slice(i, j);
    i = j;
    items.push({ tok: word === 'in' || word === 'notin' ? word : 'id', lit: word });
  }
}

const qualifiedNameRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dns1123SubdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function validateLabelKey(k: string): string | undefined {
  const parts = k.split('/');
  let name = k;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix === '') return `key ${JSON.stringify(k)}: prefix part must be non-empty`;
    if (prefix.length > 253 || !dns1123SubdomainRe.test(prefix)) return `key ${JSON.stringify(k)}: invalid prefix`;
  } else if (parts.length > 2) {
    return `key ${JSON.stringify(k)}: a qualified name must consist of alphanumeric characters, '-', '_' or '.'`;
  }
  if (name === '') return `key ${JSON.stringify(k)}: name part must be non-empty`;
  if (name.length > 63) return `key ${JSON.stringify(k)}: name part must be no more than 63 characters`;
  if (!qualifiedNameRe.test(name))
    return `key ${JSON.stringify(k)}: name part must consist of alphanumeric characters, '-', '_' or '.'`;
  return undefined;
}

function validateLabelValue(v: string): string | undefined {
  if (v.length > 63) return `values: Invalid value: ${JSON.stringify(v)}: must be no more than 63 characters`;
  if (!labelValueRe.test(v))
    return `values: Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'`;
  return undefined;
}

const int64Re = /^[+-]?\d+$/;
/** Go's `strconv.ParseInt(s, 10, 64)` succeeds. */
export function isGoInt64(s: string): boolean {
  if (!int64Re.test(s)) return false;
  const n = BigInt(s);
  return n >= -(2n ** 63n) && n < 2n ** 63n;
}

class LabelParser {
  readonly #items: { tok: Tok; lit: string }[];
  #pos = 0;
  constructor(s: string) {
    this.#items = lex(s);
  }
  // In "values" context the keywords `in`/`notin` are plain identifiers.
  #norm(item: { tok: Tok; lit: string }, values: boolean): { tok: Tok; lit: string } {
    if (values && (item.tok === 'in' || item.tok === 'notin')) return { tok: 'id', lit: item.lit };
    return item;
  }
  lookahead(values = true) {
    return this.#norm(this.#items[this.#pos]!, values);
  }
  consume(values = true) {
    const item = this.#items[this.#pos]!;
    if (this.#pos < this.#items.length - 1) this.#pos++;
    return this.#norm(item, values);
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.lookahead();
      if (tok === 'id' || tok === '!') {
        reqs.push(this.#parseRequirement());
        const next = this.consume();
        if (next.tok === 'eos') return reqs;
        if (next.tok === ',') {
          const t2 = this.lookahead();
          if (t2.tok !== 'id' && t2.tok !== '!') throw new Error(`found '${t2.lit}', expected: identifier after ','`);
        } else throw new Error(`found '${next.lit}', expected: ',' or 'end of string'`);
      } else if (tok === 'eos') return reqs;
      else throw new Error(`found '${lit}', expected: !, identifier, or 'end of string'`);
    }
  }

  #parseRequirement(): LabelRequirement {
    let operator: LabelRequirement['operator'] | undefined;
    let { tok, lit } = this.consume();
    if (tok === '!') {
      operator = '!';
      ({ tok, lit } = this.consume());
    }
    if (tok !== 'id') throw new Error(`unable to parse requirement: found '${lit}', expected: identifier`);
    const key = lit;
    const keyErr = validateLabelKey(key);
    if (keyErr) throw new Error(`unable to parse requirement: ${keyErr}`);
    const la = this.lookahead().tok;
    if (la === 'eos' || la === ',') {
      return { key, operator: operator ?? 'exists', values: [] };
    }
    if (operator === '!')
      throw new Error(`unable to parse requirement: found '${this.lookahead().lit}', expected: ',' or 'end of string'`);
    const op = this.consume(false);
    const binary: Partial<Record<Tok, LabelRequirement['operator']>> = {
      in: 'in',
      '=': '=',
      '==': '==',
      '>': 'gt',
      '<': 'lt',
      notin: 'notin',
      '!=': '!=',
    };
    const mapped = binary[op.tok];
    if (!mapped)
      throw new Error(`unable to parse requirement: found '${op.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    const values = mapped === 'in' || mapped === 'notin' ? this.#parseValues() : this.#parseExactValue();
    const sorted = [...new Set(values)].sort(byteCompare);
    if ((mapped === 'in' || mapped === 'notin') && sorted.length === 0)
      throw new Error("unable to parse requirement: for 'in', 'notin' operators, values set can't be empty");
    if (mapped === 'gt' || mapped === 'lt') {
      for (const v of sorted)
        if (!isGoInt64(v))
          throw new Error("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer");
    }
    for (const v of sorted) {
      const err = validateLabelValue(v);
      if (err) throw new Error(`unable to parse requirement: ${err}`);
    }
    return { key, operator: mapped, values: sorted };
  }

  #parseValues(): string[] {
    const open = this.consume();
    if (open.tok !== '(') throw new Error(`unable to parse requirement: found '${open.lit}' expected: '('`);
    const la = this.lookahead();
    if (la.tok === ')') {
      this.consume();
      return [''];
    }
    if (la.tok !== 'id' && la.tok !== ',')
      throw new Error(`unable to parse requirement: found '${la.lit}', expected: ',', ')' or identifier`);
    const s: string[] = [];
    for (;;) {
      const { tok, lit } = this.consume();
      if (tok === 'id') {
        s.push(lit);
        const t2 = this.lookahead();
        if (t2.tok === ',') continue;
        if (t2.tok === ')') break;
        throw new Error(`unable to parse requirement: found '${t2.lit}', expected: ',' or ')'`);
      } else if (tok === ',') {
        if (s.length === 0) s.push('');
        const t2 = this.lookahead();
        if (t2.tok === ')') {
          s.push('');
          break;
        }
        if (t2.tok === ',') {
          this.consume();
          s.push('');
        }
      } else throw new Error(`unable to parse requirement: found '${lit}', expected: ',', or identifier`);
    }
    const close = this.consume();
    if (close.tok !== ')') throw new Error(`unable to parse requirement: found '${la.lit}', expected: ')'`);
    return s;
  }

  #parseExactValue(): string[] {
    const la = this.lookahead();
    if (la.tok === 'eos' || la.tok === ',') return [''];
    const { tok, lit } = this.consume();
    if (tok === 'id') return [lit];
    throw new Error(`unable to parse requirement: found '${lit}', expected: identifier`);
  }
}

/** Go's `labels.Parse`: requirements sorted by key; values sorted and de-duplicated. */
export function parseLabelSelector(selector: string): ParseResult<readonly LabelRequirement[]> {
  try {
    const reqs = new LabelParser(selector).parse();
    // Go sorts by key with sort.Sort; a stable sort gives the same order for the selector sizes seen in practice.
    reqs.sort((a, b) => byteCompare(a.key, b.key));
    return { ok: true, value: reqs };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Mapping to SubjectAccessReview requirements (plugin/pkg/authorizer/webhook fieldSelectorToAuthorizationAPI and
// labelSelectorToAuthorizationAPI). Unsupported operators are dropped: requirements are ANDed, so dropping one
// only broadens the check.
// ---------------------------------------------------------------------------------------------------------------

/** Field selector → SAR requirements; undefined when it does not parse or no requirement survives. */
export function fieldSelectorRequirements(raw: string | undefined): readonly SelectorRequirement[] | undefined {
  if (!raw) return undefined;
  const parsed = parseFieldSelector(raw);
  if (!parsed.ok || parsed.value.length === 0) return undefined;
  const out = parsed.value.map((r): SelectorRequirement => ({
    key: r.field,
    operator: r.operator === '=' ? 'In' : 'NotIn',
    values: [r.value],
  }));
  return out;
}

/** Label selector → SAR requirements; undefined when it does not parse or no requirement survives. */
export function labelSelectorRequirements(raw: string | undefined): readonly SelectorRequirement[] | undefined {
  if (!raw) return undefined;
  const parsed = parseLabelSelector(raw);
  if (!parsed.ok || parsed.value.length === 0) return undefined;
  const out: SelectorRequirement[] = [];
  for (const r of parsed.value) {
    switch (r.operator) {
      case '=':
      case '==':
      case 'in':
        out.push({ key: r.key, operator: 'In', values: r.values });
        break;
      case '!=':
      case 'notin':
        out.push({ key: r.key, operator: 'NotIn', values: r.values });
        break;
      case 'exists':
        out.push({ key: r.key, operator: 'Exists' });
        break;
      case '!':
        out.push({ key: r.key, operator: 'DoesNotExist' });
        break;
      default:
        break; // gt, lt: not expressible in a SAR
    }
  }
  return out;
}

/** Go compares strings byte-wise (UTF-8); for the ASCII selectors allowed here, code-unit order is the same. */
function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
