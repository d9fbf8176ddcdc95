/**
 * What a user got wrong, as data: which input, what it concerns, what was expected, what was
 * found. The entry turns it into one line with `formatError`; nothing else reads or rewrites it.
 */
export interface Problem {
  /** The input as the user wrote it under `with:` (or a `brr` option), when that is what to fix. */
  input?: string;
  /** What the error concerns: `host deploy@web-1`, `release app/production/v3`, `entry a/b`. */
  subject?: string;
  /** What is wrong, when more than "expected … got …". */
  problem?: string;
  expected?: string;
  /** What was found instead: often untrusted, always escaped and cut short when shown. */
  got?: string;
  /** What to do about it. */
  hint?: string;
}

/**
 * A mistake the user can fix: a bad input, a missing key, an unknown release, a host that says
 * no. Anything else that escapes an action is a bug in this project.
 */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
  readonly problem: Readonly<Problem>;

  constructor(problem: Problem, options?: ErrorOptions) {
    super(formatProblem(problem), options);
    this.problem = Object.freeze({ ...problem });
  }
}

/**
 * Runs a parser of one input's text; a mistake it finds is said as that input's: a lower layer
 * that names another input (or none) is told which one the user wrote.
 */
export function forInput<T>(input: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw new ConfigurationError({ ...error.problem, input }, { cause: error });
  }
}

/** The runner cancelled the job: the step stopped on purpose, not because something broke. */
export class Cancelled extends Error {
  override name = 'Cancelled';
}

/** The longest a single field of a problem may print; untrusted text can be megabytes. */
const FIELD_CHARS = 400;
/** The longest line an error may print. */
const LINE_CHARS = 1500;

/**
 * Untrusted text made safe for one log line: control characters (NUL, ESC, newlines) shown as
 * `\xNN`, and cut to `max` characters with an ellipsis. Our own words pass unchanged.
 */
export function printable(text: string, max = FIELD_CHARS): string {
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
  return escaped.length > max ? `${escaped.slice(0, max - 1)}…` : escaped;
}

/** Folds a command's output or a multi-line message to one bounded line (its end kept). */
export function foldedTail(text: string, max = FIELD_CHARS): string {
  const line = printable(text.replace(/\s+/g, ' ').trim(), Number.MAX_SAFE_INTEGER);
  return line.length > max ? `…${line.slice(-(max - 1))}` : line;
}

/** Quotes a value for an error line so that empty strings and spaces show. */
export function quoted(value: string): string {
  return JSON.stringify(value.length > FIELD_CHARS ? `${value.slice(0, FIELD_CHARS - 1)}…` : value);
}

function formatProblem(problem: Problem): string {
  const head = [
    problem.input !== undefined ? `Input '${printable(problem.input, 80)}'` : undefined,
    problem.subject !== undefined ? printable(problem.subject) : undefined,
  ].filter((part) => part !== undefined);
  const parts: string[] = [];
  if (problem.problem !== undefined) parts.push(printable(problem.problem, LINE_CHARS));
  if (problem.expected !== undefined) {
    const got = problem.got !== undefined ? `, got ${printable(problem.got)}` : '';
    parts.push(`expected ${printable(problem.expected, LINE_CHARS)}${got}`);
  } else if (problem.got !== undefined) {
    parts.push(`got ${printable(problem.got)}`);
  }
  if (problem.hint !== undefined) parts.push(printable(problem.hint, LINE_CHARS));
  const body = parts.join('; ') || 'is not valid';
  const line = head.length > 0 ? `${head.join(': ')}: ${body}` : body;
  return line.length > LINE_CHARS ? `${line.slice(0, LINE_CHARS - 1)}…` : line;
}

/**
 * The one line an entry prints for a failure (`core.setFailed`, `brr`'s stderr): a user's
 * mistake as its problem says, anything else marked as unexpected. Escaped and bounded.
 */
export function formatError(error: unknown): string {
  if (error instanceof ConfigurationError) return formatProblem(error.problem);
  const text =
    error instanceof Error ? error.message : typeof error === 'string' ? error : String(error);
  const line = printable(text.replace(/\s+/g, ' ').trim(), LINE_CHARS);
  if (!(error instanceof Error)) return line;
  return `${error.name === 'Error' ? 'Unexpected error' : printable(error.name, 80)}: ${line}`;
}
