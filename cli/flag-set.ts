import { parseArgs } from 'node:util';

/**
 * Flag kinds, after pflag: `stringSlice` accepts repeated flags and comma-separated (CSV) values; the first use
 * replaces the default and later uses append. `duration` takes a Go duration string and yields milliseconds.
 */
export type FlagKind = 'string' | 'boolean' | 'int' | 'stringSlice' | 'duration';

export interface FlagSpec {
  /** Flag name without dashes, e.g. `secure-port`. */
  readonly name: string;
  readonly kind: FlagKind;
  /** One-line help text. */
  readonly help: string;
  /** Default shown in --help (already in the flag's own syntax, e.g. `8443`, `10s`). */
  readonly defaultText?: string;
  /** Single-letter alias, e.g. `h`. */
  readonly short?: string;
}

export type FlagValue = string | boolean | number | readonly string[];

export interface ParsedFlags {
  /** Values of the flags that were given, by flag name (defaults are applied by the caller). */
  readonly values: ReadonlyMap<string, FlagValue>;
  readonly positionals: readonly string[];
  /** Every problem found, in argument order, with pflag's wording. */
  readonly problems: readonly string[];
}

/** Parses a Go duration (`300ms`, `1m30s`, `-1.5h`) into milliseconds; throws with Go's message on bad input. */
export type DurationParser = (text: string) => number;

const goBools: Readonly<Record<string, boolean>> = {
  '1': true,
  t: true,
  T: true,
  true: true,
  TRUE: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  false: false,
  FALSE: false,
  False: false,
};

/** One CSV record the way Go's encoding/csv reads pflag StringSlice values: quotes group, `""` escapes a quote. */
export function readCsv(text: string): string[] {
  if (text === '') return [];
  const out: string[] = [];
  let field = '';
  let quoted = false;
  let atFieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
    } else if (ch === ',') {
      out.push(field);
      field = '';
      atFieldStart = true;
    } else {
      field += ch;
      atFieldStart = false;
    }
  }
  if (quoted) throw new Error(`extraneous or missing " in quoted-field`);
  out.push(field);
  return out;
}

/**
 * Parses `argv` against `specs` with node:util `parseArgs` in non-strict mode, then applies pflag's rules itself so
 * that every problem is reported at once (parseArgs' strict mode stops at the first) and Go's `--flag=false`
 * boolean form works.
 */
export function parseFlags(
  specs: readonly FlagSpec[],
  argv: readonly string[],
  parseDuration: DurationParser,
): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const s of specs) {
    options[s.name] = { type: s.kind === 'boolean' ? 'boolean' : 'string', ...(s.short ? { short: s.short } : {}) };
  }
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const values = new Map<string, FlagValue>();
  const positionals: string[] = [];
  const problems: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') {
      positionals.push(t.value);
      continue;
    }
    if (t.kind !== 'option') continue;
    const spec = byName.get(t.name);
    const shown = t.rawName.startsWith('--') ? `--${t.name}` : t.rawName;
    if (!spec) {
      problems.push(t.rawName.startsWith('--') ? `unknown flag: --${t.name}` : `unknown shorthand flag: ${t.rawName}`);
      continue;
    }
    const invalid = (value: string, why: string) =>
      problems.push(`invalid argument ${JSON.stringify(value)} for "${shown}" flag: ${why}`);
    if (spec.kind === 'boolean') {
      if (t.value === undefined) values.set(spec.name, true);
      else if (t.value in goBools) values.set(spec.name, goBools[t.value]!);
      else invalid(t.value, `strconv.ParseBool: parsing ${JSON.stringify(t.value)}: invalid syntax`);
      continue;
    }
    if (t.value === undefined) {
      problems.push(`flag needs an argument: ${shown}`);
      continue;
    }
    const raw = t.value;
    switch (spec.kind) {
      case 'string':
        values.set(spec.name, raw);
        break;
      case 'int': {
        if (!/^[+-]?\d+$/.test(raw)) invalid(raw, `strconv.ParseInt: parsing ${JSON.stringify(raw)}: invalid syntax`);
        else values.set(spec.name, Number.parseInt(raw, 10));
        break;
      }
      case 'duration': {
        try {
          values.set(spec.name, parseDuration(raw));
        } catch (err) {
          invalid(raw, (err as Error).message);
        }
        break;
      }
      case 'stringSlice': {
        try {
          const prev = values.get(spec.name) as readonly string[] | undefined;
          values.set(spec.name, [...(prev ?? []), ...readCsv(raw)]);
        } catch (err) {
          invalid(raw, (err as Error).message);
        }
        break;
      }
    }
  }
  return { values, positionals, problems };
}

/** `--help` text: one flag per line, name and kind left, help and default right, like pflag's FlagUsages. */
export function formatFlagUsages(specs: readonly FlagSpec[]): string {
  const left = specs.map((s) => {
    const short = s.short ? `-${s.short}, ` : '    ';
    const arg = { string: ' string', boolean: '', int: ' int', stringSlice: ' strings', duration: ' duration' }[s.kind];
    return `  ${short}--${s.name}${arg}`;
  });
  const width = Math.max(...left.map((l) => l.length)) + 3;
  return specs
    .map((s, i) => {
      const def = s.defaultText !== undefined ? ` (default ${s.defaultText})` : '';
      return `${left[i]!.padEnd(width)}${s.help}${def}`;
    })
    .join('\n');
}
