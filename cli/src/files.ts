import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigurationError } from './core.js';

/** A file an option names, read as text; relative paths are from the current directory. */
export async function readOptionFile(input: string, file: string, cwd: string): Promise<string> {
  try {
    return await readFile(path.resolve(cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigurationError({
      input,
      problem: `cannot read ${file} (${code})`,
      expected: 'a readable file',
    });
  }
}
