import type { Connection } from '../../../../shared/fleet/connect.js';
import type { HostResult } from '../../../../shared/host/activate.js';
import type { StagedHost } from '../../../../shared/host/staged.js';
import { parseHost, type Host } from '../../../../shared/names.js';

/*
 * Stand-ins for the rollout's decisions without hosts: a connection with nothing behind it, and
 * a staged host whose halves do what a test says.
 */

/**
 * A connection to `deploy@<name>` whose transport runs nothing; connecting again gives the same,
 * and is noted in `reconnects`.
 */
export function connection(name: string, reconnects: string[] = []): Connection {
  const host = parseHost(`deploy@${name}`) as Host;
  const transport = {
    label: host.label,
    bytesSent: 0,
    exec: () => Promise.reject(new Error('no host behind this connection')),
    close: () => Promise.resolve(),
  };
  return {
    host,
    transport,
    reconnect: () => {
      reconnects.push(host.label);
      return Promise.resolve(transport);
    },
  };
}

/** A host staged for `id` (locked, holding the release) whose switch does what `activate` does. */
export function stagedHost(
  label: string,
  id: string,
  activate: () => Promise<HostResult>,
  state: Partial<Pick<StagedHost, 'current' | 'wasCurrent' | 'runCommand' | 'abandon'>> = {},
): StagedHost {
  return {
    label,
    releaseId: id,
    current: state.current,
    wasCurrent: state.wasCurrent ?? false,
    runCommand: state.runCommand ?? (() => Promise.reject(new Error('no host behind it'))),
    activate,
    abandon: state.abandon ?? (() => Promise.resolve()),
  };
}
