// The one flag system of every command (serve, certs, doctor, webhook, conformance): Go's pflag semantics on top of
// node:util parseArgs (`--flag=value`, `--flag value`, bool flags with Go's `--flag=false`, string slices repeated or
// comma-separated, `-h/--help`), every problem collected at once, each one line naming the flag, the cause and the fix.
import { parseArgs } from 'node:util';
import {
  InvalidOptionError,
  formatFlagUsages as formatPflagUsages,
  parseGoBool,
  parseStringSliceValue,
} from 'kube-delegated-auth';

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

/** One flag problem: the flag (or argument) as given, what is wrong with it, and what to type instead. */
export interface FlagProblem {
  /** `--secure-port`, `-x`, or the stray argument itself. */
  readonly flag: string;
  /** pflag's wording where pflag has one (`unknown flag`, `flag needs an argument`, `invalid argument "x"`). */
  readonly cause: string;
  /** Default: run the command's --help. */
  readonly fix?: string;
}

/**
 * The command line has problems; the CLI prints one line per problem (`error: <flag>: <cause>; fix: <fix>`) and
 * exits 2. An {@link InvalidOptionError} whose `problems` are `<flag>: <cause>`, so library callers see one error type.
 */
export class FlagError extends InvalidOptionError {
  static override readonly brandName: string = 'FlagError';
  readonly flagProblems: readonly FlagProblem[];
  constructor(problems: readonly FlagProblem[]) {
    super(problems.map((p) => `${p.flag}: ${p.cause}`));
    this.name = 'FlagError';
    this.flagProblems = problems;
  }
}

/** Throws a {@link FlagError} when there are problems, unless `--help` was asked for (help wins, as in cobra). */
export function throwFlagProblems(problems: readonly FlagProblem[], help: boolean): void {
  if (problems.length > 0 && !help) throw new FlagError(problems);
}

/** The lines the CLI prints for a flag error of `command`. */
export function flagErrorLines(err: FlagError, command: string): string[] {
  const help = `run 'kube-delegated-auth ${command} --help' for the flags`;
  return err.flagProblems.map((p) => `error: ${p.flag}: ${p.cause}; fix: ${p.fix ?? help}`);
}

/** Stray arguments, for commands that take flags only. */
export function positionalProblems(positionals: readonly string[]): FlagProblem[] {
  return positionals.map((arg) => ({
    flag: arg,
    cause: 'unexpected argument (this command takes flags only)',
    fix: `drop it, or give it to the flag it belongs to (--flag ${arg})`,
  }));
}

export interface ParsedFlags {
  /** Values of the flags that were given, by flag name (defaults are applied by the caller). */
  readonly values: ReadonlyMap<string, FlagValue>;
  readonly positionals: readonly string[];
  /** Every problem found, in argument order, with pflag's wording as the cause. */
  readonly problems: readonly FlagProblem[];
}

/** The closest flag name to a misspelt one (edit distance ≤ 2), for `did you mean`. */
function closest(name: string, specs: readonly FlagSpec[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const s of specs) {
    const d = editDistance(name, s.name);
    if (d <= 2 && (!best || d < best.d)) best = { name: s.name, d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

const kindFix: Readonly<Record<Exclude<FlagKind, 'boolean'>, string>> = {
  string: '<string>',
  int: '<int>',
  stringSlice: '<a,b,...>',
  duration: '<duration, e.g. 10s, 500ms, 1m30s>',
};

/** Parses a Go duration (`300ms`, `1m30s`, `-1.5h`) into milliseconds; throws with Go's message on bad input. */
export type DurationParser = (text: string) => number;

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
  const problems: FlagProblem[] = [];
  // `--unknwn value`: parseArgs cannot know the unknown flag takes a value; its value is not a stray argument too.
  let valueOfUnknown = false;
  for (const t of tokens) {
    if (t.kind === 'positional') {
      if (!valueOfUnknown) positionals.push(t.value);
      valueOfUnknown = false;
      continue;
    }
    valueOfUnknown = false;
    if (t.kind !== 'option') continue;
    const spec = byName.get(t.name);
    const shown = t.rawName.startsWith('--') ? `--${t.name}` : t.rawName;
    if (!spec) {
      const long = t.rawName.startsWith('--');
      const guess = long ? closest(t.name, specs) : undefined;
      valueOfUnknown = long && t.value === undefined;
      problems.push({
        flag: long ? `--${t.name}` : t.rawName,
        cause: long ? 'unknown flag' : 'unknown shorthand flag',
        ...(guess && { fix: `did you mean --${guess}?` }),
      });
      continue;
    }
    const invalid = (value: string, why: string, fix: string) =>
      problems.push({ flag: shown, cause: `invalid argument ${JSON.stringify(value)}: ${why}`, fix });
    if (spec.kind === 'boolean') {
      try {
        values.set(spec.name, t.value === undefined ? true : parseGoBool(t.value));
      } catch (err) {
        invalid(t.value!, (err as Error).message, `--${spec.name}=true or --${spec.name}=false`);
      }
      continue;
    }
    const fix = `--${spec.name}=${spec.defaultText ?? kindFix[spec.kind]}`;
    if (t.value === undefined) {
      problems.push({ flag: shown, cause: 'flag needs an argument', fix });
      continue;
    }
    const raw = t.value;
    switch (spec.kind) {
      case 'string':
        values.set(spec.name, raw);
        break;
      case 'int': {
        if (!/^[+-]?\d+$/.test(raw))
          invalid(raw, `strconv.ParseInt: parsing ${JSON.stringify(raw)}: invalid syntax`, fix);
        else values.set(spec.name, Number.parseInt(raw, 10));
        break;
      }
      case 'duration': {
        try {
          values.set(spec.name, parseDuration(raw));
        } catch (err) {
          invalid(raw, (err as Error).message, fix);
        }
        break;
      }
      case 'stringSlice': {
        try {
          const prev = values.get(spec.name) as readonly string[] | undefined;
          values.set(spec.name, [...(prev ?? []), ...parseStringSliceValue(raw)]);
        } catch (err) {
          invalid(raw, (err as Error).message, `quote a field that holds a comma: --${spec.name}='"a,b",c'`);
        }
        break;
      }
    }
  }
  return { values, positionals, problems };
}

const typeNames: Readonly<Record<FlagKind, string>> = {
  string: 'string',
  boolean: '',
  int: 'int',
  stringSlice: 'strings',
  duration: 'duration',
};

/** `--help` text of a command's flags, laid out as pflag's FlagUsages (the library's `formatFlagUsages`). */
export function formatFlagUsages(specs: readonly FlagSpec[]): string {
  return formatPflagUsages(
    specs.map((s) => ({
      name: s.name,
      typeName: typeNames[s.kind],
      usage: s.help,
      ...(s.short !== undefined && { shorthand: s.short }),
      ...(s.defaultText !== undefined && { defaultText: s.defaultText }),
    })),
  );
}
