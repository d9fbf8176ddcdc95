import { InvalidArgumentError } from 'commander';
import { ConfigurationError } from './core.js';
import type { Io } from './io.js';
import { outputOf, type Output } from './output.js';
import { resolveSettings, type CommonFlags, type Settings } from './settings.js';
import { stderrLog } from './io.js';
import type { Log } from './core.js';

/** A problem with how brr was called (an option, an argument, a missing token): exit 2. */
export class UsageError extends ConfigurationError {
  override name = 'UsageError';
}

/** Runs the checks of a command's options and arguments: what they throw is a usage error. */
export async function checked<T>(check: () => T | Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    if (error instanceof ConfigurationError && !(error instanceof UsageError)) {
      throw new UsageError(error.problem, { cause: error });
    }
    throw error;
  }
}

/** What a command's action starts from. */
export interface Run {
  io: Io;
  settings: Settings;
  output: Output;
  log: Log;
}

export async function startRun(flags: CommonFlags, io: Io): Promise<Run> {
  const settings = await checked(() => resolveSettings(flags, io));
  return { io, settings, output: outputOf(io, settings.json), log: stderrLog(io) };
}

/** A commander parser for a whole number within bounds (`--limit`). */
export function wholeNumber(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return Number(text);
  };
}
