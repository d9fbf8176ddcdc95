import { ConfigurationError, quoted } from './errors.js';
import { ENV_NAME } from './names.js';

/*
 * One .env file is read by three parsers: systemd's EnvironmentFile= (src/basic/env-file.c),
 * the npm `dotenv` package and Node's `--env-file`. Their common ground:
 *
 * - 'single quotes' keep everything literally in all three, newlines included, but cannot hold
 *   a single quote (dotenv and Node have no escape inside them).
 * - "double quotes" keep the text literally in all three only without `"` and without a backslash
 *   that someone reads as an escape: systemd reads `\"`, `\\`, `\$`, `` \` `` and a backslash
 *   before a newline as escapes, dotenv turns `\n` and `\r` into a newline and a carriage return,
 *   Node `\n`; every other backslash is kept by all three.
 * - unquoted text is literal in all three only on one line, without `\` (an escape to systemd)
 *   or `#` (a comment to dotenv and Node), without leading or trailing white space (trimmed),
 *   and not starting with a quote (which would open a quoted value).
 *
 * So a value without `'` goes in single quotes, one with `'` in double quotes, one with both `'`
 * and `"` unquoted; anything else is refused rather than written in a form that some reader
 * takes differently. systemd also drops any assignment whose value holds a control character
 * other than tab and newline, and dotenv turns a carriage return into a newline, so those are
 * refused too.
 */

// eslint-disable-next-line no-control-regex -- exactly the characters systemd refuses in a value
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;
const QUOTE_START = /^['"`]/;
/** A backslash that one of the readers takes as an escape inside double quotes. */
const ESCAPE_IN_DOUBLE_QUOTES = /\\([\\"`$\nnr]|$)/;

type Encoded = { text: string; problem?: undefined } | { text?: undefined; problem: string };

function encode(value: string): Encoded {
  if (!value.isWellFormed()) return { problem: 'is not valid Unicode (a lone surrogate)' };
  const control = CONTROL.exec(value)?.[0];
  if (control !== undefined) {
    const code = control.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return {
      problem: `contains the control character U+${code}, which systemd's EnvironmentFile= drops`,
    };
  }
  if (!value.includes("'")) return { text: `'${value}'` };
  const escape = ESCAPE_IN_DOUBLE_QUOTES.test(value);
  if (!value.includes('"') && !escape) return { text: `"${value}"` };
  const blocker = !value.includes('"')
    ? ' and a backslash that systemd or dotenv reads as an escape (before n, r, $, `, \\ or at the end)'
    : value.includes('\\')
      ? ', " and a backslash'
      : value.includes('\n')
        ? ', " and a newline'
        : value.includes('#')
          ? ', " and a #'
          : QUOTE_START.test(value)
            ? ', " and starts with a quote'
            : /^\s|\s$/.test(value)
              ? ', " and leading or trailing white space'
              : undefined;
  if (blocker === undefined) return { text: value };
  return {
    problem: `holds '${blocker}: no .env quoting reads that the same in systemd's EnvironmentFile= and dotenv`,
  };
}

/** Why `value` cannot be written to a .env file, or undefined when it can. */
export function envValueProblem(value: string): string | undefined {
  return encode(value).problem;
}

/**
 * Renders config as a .env file that systemd's EnvironmentFile=, dotenv and `node --env-file`
 * all read back to exactly these values. Keys are sorted, so the same config gives the same file.
 * A value no common quoting can carry is refused with its key, never with its value.
 */
export function renderEnvFile(values: Record<string, string>): string {
  const lines: string[] = [];
  for (const key of Object.keys(values).sort()) {
    if (!ENV_NAME.test(key)) {
      throw new ConfigurationError({
        subject: `config key ${quoted(key)}`,
        problem: 'is not an environment variable name',
      });
    }
    const { text, problem } = encode(values[key]!);
    if (text === undefined) {
      throw new ConfigurationError({
        subject: `config key ${key}`,
        problem: `the value ${problem}`,
      });
    }
    lines.push(`${key}=${text}\n`);
  }
  return lines.join('');
}
