import { ConfigurationError, formatError } from '../errors.js';
import type { GitHub } from '../github.js';
import { destroyHost } from '../host/destroy.js';
import type { LockOptions } from '../host/session.js';
import { deleteLedger, type LedgerScope } from '../ledger.js';
import type { Log } from '../log.js';
import type { Fleet } from './connect.js';
import { deactivateDeployments, type DeploymentTarget } from './github-deployment.js';
import { mapLimit } from './parallel.js';

export interface DestroyedHost {
  host: string;
  removed: boolean;
  stopped: boolean;
  error?: Error;
}

export interface TeardownOptions {
  app: string;
  environment: string;
  root: string;
  lock: LockOptions;
  log: Log;
  stopCommand: string | undefined;
  parallel: number;
  /** Where to mark the environment's Deployments inactive; none with `deployment: false`. */
  deployments: DeploymentTarget | undefined;
  /** The ledger whose releases go too, with `delete-releases`. */
  releases: { github: GitHub; scope: LedgerScope } | undefined;
}

export interface Teardown {
  hosts: DestroyedHost[];
  /** Deployments marked inactive; undefined when none were to be. */
  deactivated: number | undefined;
  /** Tags of the releases deleted; undefined when none were to be. */
  deletedReleases: string[] | undefined;
  /** What the step fails with: the one host's error, or a line for the fleet. */
  failure: Error | undefined;
}

/**
 * Tears an environment down (a closed pull request's preview): on every host the stop command in
 * its current release, then its deploy root. GitHub's record follows the hosts: Deployments are
 * marked inactive and releases deleted only once every host is torn down.
 */
export async function teardown(fleet: Fleet, options: TeardownOptions): Promise<Teardown> {
  const hosts = await destroyOnHosts(fleet, options);
  for (const host of hosts) {
    if (host.error === undefined) {
      const what = host.removed ? `removed ${options.root}` : 'nothing to remove';
      options.log.info(`host ${host.host}: ${what}`);
    }
  }
  const failed = hosts.flatMap((host) => (host.error ? [host.error] : []));
  const whole = failed.length === 0;
  const deactivated =
    whole && options.deployments
      ? await deactivateDeployments(options.deployments, options.environment)
      : undefined;
  const deletedReleases =
    whole && options.releases
      ? await deleteLedger(options.releases.github, options.releases.scope, options.log)
      : undefined;
  const failure =
    failed.length === 0
      ? undefined
      : failed.length === 1 && hosts.length === 1
        ? failed[0]
        : new ConfigurationError({
            problem: `${failed.length} of ${hosts.length} hosts were not torn down: ${failed.map(formatError).join('; ')}`,
          });
  return { hosts, deactivated, deletedReleases, failure };
}

/** Every host is tried; each one's failure is kept, one line each. */
async function destroyOnHosts(fleet: Fleet, options: TeardownOptions): Promise<DestroyedHost[]> {
  const connections = await fleet.connections();
  const settled = await mapLimit(connections, options.parallel, (connection) =>
    destroyHost(connection.transport, {
      root: options.root,
      lock: options.lock,
      log: options.log,
      ...(options.stopCommand !== undefined ? { stopCommand: options.stopCommand } : {}),
    }),
  );
  return settled.map((outcome, index) => {
    const host = connections[index]!.host.label;
    if (outcome.status === 'fulfilled') return { ...outcome.value, host };
    const reason: unknown = outcome.reason;
    const error = reason instanceof Error ? reason : new Error(String(reason));
    return { host, removed: false, stopped: false, error };
  });
}
