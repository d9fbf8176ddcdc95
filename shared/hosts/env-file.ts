import { ConfigurationError } from '../errors.js';

/** A name a shell and systemd both accept as an environment variable. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Renders a release's `.env`: one `NAME="value"` line per variable, with `\`, `"`, `$` and
 * backquote escaped by a backslash and newlines kept as they are. That is one format read alike
 * by `set -a; . ./.env` (POSIX sh double quotes: nothing expands) and by systemd's
 * `EnvironmentFile=`, so the restart command and a systemd unit see the same values.
 */
export function renderEnvFile(env: Readonly<Record<string, string>>): string {
  const lines: string[] = [];
  for (const name of Object.keys(env).sort()) {
    const value = env[name] ?? '';
    if (!ENV_NAME.test(name)) {
      throw new ConfigurationError(
        `config: ${JSON.stringify(name)} is not a valid variable name (letters, digits and '_', not starting with a digit)`,
      );
    }
    if (value.includes('\0')) throw new ConfigurationError(`config: ${name} contains a NUL byte`);
    lines.push(`${name}="${value.replace(/[\\"$`]/g, '\\$&')}"`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Reads what renderEnvFile wrote. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('="', at);
    if (end < 0) throw new Error(`.env: expected NAME="value" at offset ${at}`);
    const name = text.slice(at, end);
    if (!ENV_NAME.test(name)) throw new Error(`.env: bad variable name at offset ${at}`);
    let value = '';
    let i = end + 2;
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\' && i + 1 < text.length && '\\"$`'.includes(text[i + 1] ?? '')) i++;
      value += text[i];
    }
    if (i >= text.length) throw new Error(`.env: unterminated value for ${name}`);
    env[name] = value;
    at = i + 1;
    if (text[at] === '\n') at++;
  }
  return env;
}
