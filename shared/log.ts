/** What the shared code may say to the log. At the entry, @actions/core is passed in. */
export interface Log {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  /** Masks a value in everything the runner prints from now on. */
  setSecret(value: string): void;
}

/** A log that says nothing, for tests and tools that have no runner. */
export const silentLog: Log = {
  info: () => undefined,
  warning: () => undefined,
  debug: () => undefined,
  setSecret: () => undefined,
};
