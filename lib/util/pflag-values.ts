// The value syntax of spf13/pflag, shared by the delegated-auth flags of kube-delegated-auth/apiserver and the CLI's
// flag parser, so `--requestheader-username-headers=a,"b,c"` and `--anonymous-auth=F` mean the same in both; and
// pflag's --help layout, so the CLI's commands and a user's binary list their flags alike.

/** Go's strconv.ParseBool spellings. */
const goBools: Readonly<Record<string, boolean>> = Object.freeze({
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
});

/**
 * Go's `strconv.ParseBool`, as pflag's bool flags read `--flag=<value>`: `1 t T true TRUE True` and the false
 * spellings. Throws with Go's message (`strconv.ParseBool: parsing "x": invalid syntax`) on anything else.
 */
export function parseGoBool(text: string): boolean {
  if (Object.hasOwn(goBools, text)) return goBools[text]!;
  throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`);
}

/**
 * One value of a pflag StringSlice flag, read as Go's encoding/csv reads one record: commas separate, a field that
 * starts with `"` is quoted (`""` is a quote inside it), `--flag=` (empty) is the empty list. Repeats of the flag
 * append (the caller concatenates). Throws `extraneous or missing " in quoted-field` on an unterminated quote.
 */
export function parseStringSliceValue(text: string): string[] {
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
  if (quoted) throw new Error('extraneous or missing " in quoted-field');
  out.push(field);
  return out;
}

/** One flag as pflag's `FlagUsages` lists it in --help. */
export interface FlagUsage {
  /** Without dashes: `secure-port`. */
  readonly name: string;
  /** A single-letter alias (`h` for `-h, --help`). */
  readonly shorthand?: string;
  /** The value's type as pflag prints it after the name (`string`, `strings`, `int`, `duration`); empty for a bool. */
  readonly typeName: string;
  /** One-line help text. */
  readonly usage: string;
  /** The default as pflag prints it (`10s`, `[x-remote-user]`); not shown when undefined or empty. */
  readonly defaultText?: string;
}

/**
 * The flags as pflag's `FlagUsages` prints them: one a line, `-x, --name type` on the left (names without a shorthand
 * indented to line up), the usage text and `(default …)` in a column three spaces past the longest left part.
 */
export function formatFlagUsages(flags: readonly FlagUsage[]): string {
  const left = flags.map(
    (f) => `  ${f.shorthand ? `-${f.shorthand}, ` : '    '}--${f.name}${f.typeName ? ` ${f.typeName}` : ''}`,
  );
  const width = Math.max(...left.map((l) => l.length)) + 3;
  return flags
    .map((f, i) => `${left[i]!.padEnd(width)}${f.usage}${f.defaultText ? ` (default ${f.defaultText})` : ''}`)
    .join('\n');
}
