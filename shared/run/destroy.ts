import { formatError } from '../errors.js';
import type { GitHub, Repository } from '../github.js';
import { destroyHost, type LockOptions } from '../hosts/engine.js';
import { deleteLedger, type LedgerScope } from '../ledger.js';
import type { Log } from '../log.js';
import { markdownTable } from '../summary.js';
import { mapLimit, type Connection } from './hosts.js';

export interface DestroyedHost {
  host: string;
  removed: boolean;
  stopped: boolean;
  error?: string;
}

/**
 * Tears an environment down on every host (a closed pull request's preview): the stop command
 * in its current release, then its deploy root. Every host is tried; failures are reported
 * together, one line each.
 */
export async function destroyOnHosts(
  connections: readonly Connection[],
  options: {
    root: string;
    lock: LockOptions;
    log: Log;
    stopCommand: string | undefined;
    parallel: number;
  },
): Promise<DestroyedHost[]> {
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
    return {
      host,
      removed: false,
      stopped: false,
      error: reason instanceof Error ? reason.message : formatError(reason),
    };
  });
}

/** Marks the environment's deployments inactive, so GitHub no longer shows it as deployed. */
export async function deactivateDeployments(
  github: GitHub,
  repository: Repository,
  environment: string,
  logUrl: string,
): Promise<number> {
  const deployments = await github.paginate(github.rest.repos.listDeployments, {
    ...repository,
    environment,
    per_page: 100,
  });
  let marked = 0;
  for (const deployment of deployments) {
    const { data: statuses } = await github.rest.repos.listDeploymentStatuses({
      ...repository,
      deployment_id: deployment.id,
      per_page: 1,
    });
    if (statuses[0]?.state === 'inactive') continue;
    await github.rest.repos.createDeploymentStatus({
      ...repository,
      deployment_id: deployment.id,
      state: 'inactive',
      description: 'Environment torn down',
      log_url: logUrl,
    });
    marked++;
  }
  return marked;
}

/** Deletes the environment's releases and their tags: the ledger of a preview goes with it. */
export function deleteReleases(github: GitHub, scope: LedgerScope, log: Log): Promise<string[]> {
  return deleteLedger(github, scope, log);
}

export function destroySummary(options: {
  app: string;
  environment: string;
  root: string;
  hosts: readonly DestroyedHost[];
  deactivated: number | undefined;
  deletedReleases: readonly string[] | undefined;
}): string {
  const rows = options.hosts.map((h) => [
    `\`${h.host}\``,
    h.error !== undefined
      ? `✗ ${h.error}`
      : h.removed
        ? `✓ removed${h.stopped ? ' (stopped first)' : ''}`
        : 'nothing there',
  ]);
  const lines = [
    `### Destroy ${options.app} ${options.environment}`,
    '',
    `Deploy root \`${options.root}\` on each host:`,
    '',
    markdownTable(['Host', 'Result'], rows),
    '',
  ];
  if (options.deactivated !== undefined) {
    lines.push(`GitHub Deployments marked inactive: ${options.deactivated}`, '');
  }
  if (options.deletedReleases !== undefined) {
    lines.push(
      `Releases deleted: ${options.deletedReleases.length ? options.deletedReleases.map((t) => `\`${t}\``).join(', ') : 'none'}`,
      '',
    );
  }
  return lines.join('\n');
}
