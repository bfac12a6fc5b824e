// The scaffolding of a command that answers its own --help and flag errors (doctor, conformance): argv parsed with the
// one flag system, stray arguments counted as problems, --help answered before any problem (as in cobra), and every
// problem printed as one `error:` line with exit code 2 before the command does anything.
import { parseGoDuration } from 'kube-delegated-auth';
import {
  FlagError,
  flagErrorLines,
  parseFlags,
  positionalProblems,
  type FlagProblem,
  type FlagSpec,
  type FlagValue,
} from './flag-set.js';

/** A command's parsed flags, and the problems found so far (the command's own checks add theirs). */
export interface CommandLine {
  /** The value of a flag that was given, as its kind parses it; undefined when it was not given. */
  value<T extends FlagValue>(name: string): T | undefined;
  /** pflag's problems and stray arguments, in argument order; push the command's own. */
  readonly problems: FlagProblem[];
}

/** A command that prints its own usage and flag errors. */
export interface FlagsCommand<Checked> {
  /** As typed after `kube-delegated-auth`, for the `--help` hint of a flag error. */
  readonly name: string;
  readonly flags: readonly FlagSpec[];
  /** What --help prints. */
  readonly usage: string;
  /** Validates the flags (pushing to `problems`) and returns what `run` needs; runs only without --help. */
  readonly check: (line: CommandLine) => Checked;
  /** Runs once there are no problems; resolves to the exit code. */
  readonly run: (checked: Checked) => Promise<number>;
}

/** Where a command writes its usage (the text as it is) and its flag errors (one line each, without newline). */
export interface FlagsCommandIo {
  readonly usage: (text: string) => void;
  readonly errorLine: (line: string) => void;
}

/**
 * Parses `argv` against `command.flags`: `-h`/`--help` prints the usage (0); any problem, pflag's, a stray argument
 * or one `check` adds, prints one `error: <flag>: <cause>; fix: <fix>` line each (2); otherwise `run` decides.
 */
export async function runFlagsCommand<Checked>(
  command: FlagsCommand<Checked>,
  argv: readonly string[],
  io: FlagsCommandIo,
): Promise<number> {
  const parsed = parseFlags(command.flags, argv, parseGoDuration);
  if (parsed.values.get('help') === true) {
    io.usage(command.usage);
    return 0;
  }
  const line: CommandLine = {
    value: <T extends FlagValue>(name: string) => parsed.values.get(name) as T | undefined,
    problems: [...parsed.problems, ...positionalProblems(parsed.positionals)],
  };
  const checked = command.check(line);
  if (line.problems.length > 0) {
    for (const error of flagErrorLines(new FlagError(line.problems), command.name)) io.errorLine(error);
    return 2;
  }
  return command.run(checked);
}
