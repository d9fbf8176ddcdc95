/**
 * A mistake the user can fix: a bad input, a missing key, an unknown release.
 * Anything else that escapes an action is a bug in this project.
 */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

/** The runner cancelled the job: the step stopped on purpose, not because something broke. */
export class Cancelled extends Error {
  override name = 'Cancelled';
}

/** One line, fit for `core.setFailed`: the first line of the message, whitespace folded. */
export function oneLine(error: unknown): string {
  const text =
    error instanceof Error ? error.message : typeof error === 'string' ? error : String(error);
  const line = text.replace(/\s+/g, ' ').trim();
  if (error instanceof ConfigurationError || !(error instanceof Error)) return line;
  return `${error.name === 'Error' ? 'Unexpected error' : error.name}: ${line}`;
}
