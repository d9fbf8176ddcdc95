import { heldLog, type Log } from '../log.js';

/** Runs a host's work with its log in a group of its own, titled `title`. */
export type Grouped = <T>(
  index: number,
  title: string,
  work: (log: Log) => Promise<T>,
) => Promise<T>;

/**
 * Groups for each host's log. One host at a time, a group is printed as it goes; several at
 * once, each host's lines are held and printed together when its work is done, so hosts do not
 * interleave. The printing never holds up the work; `printed()` waits for the last of it.
 */
export function grouping(
  count: number,
  options: { log: Log; parallel: number },
): { group: Grouped; printed: () => Promise<void> } {
  const held = Array.from({ length: count }, () => heldLog(options.log));
  let printed = Promise.resolve();
  const group: Grouped = async (index, title, work) => {
    if (options.parallel === 1) return options.log.group(title, () => work(options.log));
    const log = held[index]!;
    try {
      return await work(log);
    } finally {
      printed = printed.then(() => log.flush(title));
    }
  };
  return { group, printed: () => printed };
}
