/** What the shared code may say to the log. At the entry, the runner's log is passed in. */
export interface Log {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  /** Masks a value in everything the runner prints from now on. */
  setSecret(value: string): void;
  /** Runs `body` with what it logs folded under `name` (a `::group::` on the runner). */
  group<T>(name: string, body: () => Promise<T>): Promise<T>;
  /**
   * Prints text a command on a host wrote (a restart, a health check): shown as it is, never
   * read by the runner as a workflow command, still masked.
   */
  output(text: string): void;
}

/** A log that says nothing, for tests and tools that have no runner. */
export const silentLog: Log = {
  info: () => undefined,
  warning: () => undefined,
  debug: () => undefined,
  setSecret: () => undefined,
  group: (_name, body) => body(),
  output: () => undefined,
};

type Entry =
  | { kind: 'info' | 'warning' | 'debug' | 'output'; text: string }
  | { kind: 'group'; name: string; entries: Entry[] };

function replay(log: Log, entries: readonly Entry[]): void {
  for (const entry of entries) {
    if (entry.kind === 'group') {
      // A group inside a held one cannot fold on the runner: its lines go in the outer group.
      log.info(`${entry.name}:`);
      replay(log, entry.entries);
    } else if (entry.kind === 'output') log.output(entry.text);
    else log[entry.kind](entry.text);
  }
}

/**
 * A log that keeps what it is told until `flush`, which prints it folded under `name`: for work
 * that runs beside other work (hosts deployed in parallel), whose lines would interleave. Masking
 * is never held back.
 */
export function heldLog(parent: Log): Log & { flush(name: string): Promise<void> } {
  const root: Entry[] = [];
  let into = root;
  return {
    info: (text) => into.push({ kind: 'info', text }),
    warning: (text) => into.push({ kind: 'warning', text }),
    debug: (text) => into.push({ kind: 'debug', text }),
    output: (text) => into.push({ kind: 'output', text }),
    setSecret: (value) => parent.setSecret(value),
    async group(name, body) {
      const outer = into;
      const entries: Entry[] = [];
      outer.push({ kind: 'group', name, entries });
      into = entries;
      try {
        return await body();
      } finally {
        into = outer;
      }
    },
    flush: (name) =>
      parent.group(name, () => {
        replay(parent, root.splice(0));
        return Promise.resolve();
      }),
  };
}
