import { Argument, InvalidArgumentError } from 'commander';
import type { z } from 'zod';
import { environmentName, releaseId } from './core.js';

function parser(
  schema: z.ZodType<string>,
  extra: readonly string[] = [],
): (text: string) => string {
  return (text) => {
    if (extra.includes(text)) return text;
    const result = schema.safeParse(text);
    if (result.success) return result.data;
    throw new InvalidArgumentError(result.error.issues[0]?.message ?? 'not valid');
  };
}

/** `<environment>`: a name as the ledger's tags hold it (production, pr-12). */
export function environmentArgument(): Argument {
  return new Argument('<environment>', 'the environment, such as production').argParser(
    parser(environmentName),
  );
}

/** A release ID such as v12, or `latest` (the newest published release). */
export function releaseArgument(name: string, description: string, required = true): Argument {
  const argument = new Argument(required ? `<${name}>` : `[${name}]`, description);
  return argument.argParser(parser(releaseId, ['latest']));
}

/** What `rollback` goes back to: a release ID, or `previous` (the default). */
export function rollbackArgument(): Argument {
  const parse = parser(releaseId, ['previous']);
  return new Argument('[id]', 'the release to go back to, such as v11, or previous')
    .argParser((text) => {
      if (text === 'latest') {
        throw new InvalidArgumentError(
          'expected a release ID such as v11, or previous: a rollback goes back to a release already on the hosts',
        );
      }
      return parse(text);
    })
    .default('previous');
}
