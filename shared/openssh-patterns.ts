/**
 * OpenSSH's pattern lists (match.c): comma-separated globs where `*` matches any run and `?` one
 * character, and a `!` pattern that matches vetoes the whole list. known_hosts host fields and
 * allowed_signers principals both use them; host names compare without case, principals with.
 */
export function matchPatternList(
  value: string,
  patterns: string,
  options: { ignoreCase?: boolean } = {},
): boolean {
  let matched = false;
  for (const raw of patterns.split(',')) {
    const negated = raw.startsWith('!');
    if (globMatch(value, negated ? raw.slice(1) : raw, options.ignoreCase ?? false)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function globMatch(value: string, pattern: string, ignoreCase: boolean): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'si' : 's').test(value);
}
