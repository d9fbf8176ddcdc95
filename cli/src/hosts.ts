import {
  formatError,
  mapLimit,
  openFleet,
  readHostState,
  type Connection,
  type Fleet,
  type Host,
  type Log,
} from './core.js';
import { fleetAccess, type HostAccess } from './host-access.js';
import type { Io } from './io.js';

/** Hosts read at once by `status` and `unlock`: each read is one short command. */
const READS_AT_ONCE = 16;

/** One host's answer, or why it gave none. */
export type Reached<T> =
  | { host: Host; value: T; problem?: undefined }
  | { host: Host; value?: undefined; problem: string };

/**
 * Runs `work` on every host at once, each on a connection of its own, so that a host that cannot
 * be reached is one row of the answer, not the end of it.
 */
export async function eachHost<T>(
  access: HostAccess,
  io: Io,
  work: (connection: Connection) => Promise<T>,
): Promise<Reached<T>[]> {
  const connect = fleetAccess(access, io.env);
  const settled = await mapLimit(access.hosts, READS_AT_ONCE, async (host) => {
    const fleet = openFleet([host], connect, 1);
    try {
      const [connection] = await fleet.connections();
      return await work(connection!);
    } finally {
      await fleet.close();
    }
  });
  return access.hosts.map((host, index): Reached<T> => {
    const outcome = settled[index]!;
    return outcome.status === 'fulfilled'
      ? { host, value: outcome.value }
      : { host, problem: formatError(outcome.reason) };
  });
}

/** The hosts as one fleet: all connected, or none (`rollback` changes nothing then). */
export function openHosts(access: HostAccess, io: Io, parallel: number): Fleet {
  return openFleet(access.hosts, fleetAccess(access, io.env), parallel);
}

/** What one host runs now, read from it: for a host a rollout did not reach. */
export async function currentOn(
  connection: Connection,
  root: string,
  log: Log,
): Promise<string | undefined> {
  return (await readHostState(connection.transport, { root, log })).current;
}
