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

type Held =
  | { kind: 'info' | 'warning' | 'debug'; text: string }
  | { kind: 'group'; title: string; entries: Held[] };

function replay(log: Log, entries: readonly Held[]): void {
  for (const entry of entries) {
    if (entry.kind === 'group') {
      // A group inside a held one cannot fold on the runner: its lines go in the outer group.
      log.info(`${entry.title}:`);
      replay(log, entry.entries);
    } else log[entry.kind](entry.text);
  }
}

/**
 * A log that keeps what it is told until `flush`, which prints it folded under `title`: for work
 * that runs beside other work (hosts deployed in parallel), whose lines would interleave. Masking
 * is never held back.
 */
export function heldLog(parent: Log): Log & { flush(title: string): Promise<void> } {
  const root: Held[] = [];
  let into = root;
  return {
    info: (text) => into.push({ kind: 'info', text }),
    warning: (text) => into.push({ kind: 'warning', text }),
    debug: (text) => into.push({ kind: 'debug', text }),
    setSecret: (value) => parent.setSecret(value),
    async group(title, body) {
      const outer = into;
      const entries: Held[] = [];
      outer.push({ kind: 'group', title, entries });
      into = entries;
      try {
        return await body();
      } finally {
        into = outer;
      }
    },
    flush: (title) =>
      parent.group(title, () => {
        replay(parent, root.splice(0));
        return Promise.resolve();
      }),
  };
}
