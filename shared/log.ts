import { randomBytes } from 'node:crypto';

/** What the shared code may say to the log. At the entry, @actions/core is passed in. */
export interface Log {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  /** Masks a value in everything the runner prints from now on. */
  setSecret(value: string): void;
  /** Folds what `body` prints into one group of the log, titled `title`. */
  group<T>(title: string, body: () => Promise<T>): Promise<T>;
}

/** A log that says nothing, for tests and tools that have no runner. */
export const silentLog: Log = {
  info: () => undefined,
  warning: () => undefined,
  debug: () => undefined,
  setSecret: () => undefined,
  group: (_title, body) => body(),
};

/**
 * Prints what a command on a host wrote, between stop-commands markers: a line in it that looks
 * like a workflow command (`::add-mask::`, `::error::`) is shown, never obeyed.
 */
export function logOutput(log: Log, text: string): void {
  const token = randomBytes(16).toString('hex');
  log.info(`::stop-commands::${token}`);
  log.info(text);
  log.info(`::${token}::`);
}
