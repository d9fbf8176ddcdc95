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
