import { dryRunHost, type DryRun } from '../host/state.js';
import type { HostRelease } from '../host/transfer.js';
import type { Log } from '../log.js';
import type { Connection } from './connect.js';

/** What a deploy would do on every host, read from each; changes nothing. Logs a line per host. */
export async function dryRunFleet(
  connections: readonly Connection[],
  options: {
    root: string;
    release: Pick<HostRelease, 'id' | 'manifestBytes'>;
    keep: number;
    log: Log;
  },
): Promise<DryRun[]> {
  const { log } = options;
  const hosts = await Promise.all(connections.map((c) => dryRunHost(c.transport, options)));
  for (const host of hosts) {
    const upload = host.upload === 'skip' ? 'reuse' : host.upload;
    const prune = host.prune.length ? `, prune ${host.prune.join(', ')}` : '';
    const problems = host.problems.length ? `; problems: ${host.problems.join('; ')}` : '';
    log.info(
      `host ${host.host}: would ${upload} ${host.releaseId}, switch ${host.current ?? 'nothing'} -> ${host.releaseId}${prune}${problems}`,
    );
  }
  return hosts;
}
