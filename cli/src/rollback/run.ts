import {
  ConfigurationError,
  fleetResult,
  formatError,
  isPreviewEnvironment,
  PendingDeployment,
  readHostState,
  rollbackHost,
  rollout,
  stageRollback,
  type Commands,
  type Connection,
  type Fleet,
  type HostOutcome,
  type LockOptions,
  type Log,
} from '../core.js';
import type { Ledger } from '../ledger.js';
import type { Token } from '../token.js';
import type { TrustedRelease } from './trust.js';

export interface RollbackStep {
  release: TrustedRelease;
  fleet: Fleet;
  root: string;
  lock: LockOptions;
  commands: Commands;
  parallel: number;
  onFailure: 'rollback' | 'stop';
  /** Where the GitHub Deployment is recorded; undefined records none. */
  deployment: { ledger: Ledger; token: Token; operator: string } | undefined;
  log: Log;
}

export interface RollbackDone {
  outcomes: HostOutcome[];
  fleet: ReturnType<typeof fleetResult>;
  deploymentId: number | undefined;
}

function pendingDeployment(step: RollbackStep): PendingDeployment | undefined {
  if (!step.deployment) return undefined;
  const { ledger, operator } = step.deployment;
  const { manifest, digest, id } = step.release;
  const { owner, repo, environment, app } = ledger.scope;
  return new PendingDeployment(
    { github: ledger.github, repository: { owner, repo }, logUrl: undefined, log: step.log },
    {
      environment,
      sha: manifest.build.sha,
      app,
      releaseId: id,
      manifestDigest: digest,
      description: `Roll back to ${id} with brr (${operator}): ${manifest.changes}`,
      transient: isPreviewEnvironment(environment),
      production: environment === 'production',
      rollback: true,
    },
  );
}

/** A refused Deployment, said for brr: which token, and how to roll back without recording one. */
function deploymentRefused(error: unknown, token: Token): unknown {
  if (!(error instanceof ConfigurationError) || error.problem.input !== 'token') return error;
  return new ConfigurationError({
    ...error.problem,
    input: token.source,
    hint: 'give the token Deployments: write (gh auth login does), or pass --no-deployment',
  });
}

/**
 * Switches every host back to the release, as run-action rolls back: the hosts' lock, the same
 * engine (shared/host/rollback.ts), on failure the switched hosts put back, and a GitHub
 * Deployment recorded once the first host is about to change.
 */
export async function rollBack(step: RollbackStep): Promise<RollbackDone> {
  const { release, root, lock, commands, log } = step;
  const deployment = pendingDeployment(step);
  const common = (c: Connection, hostLog: Log) => ({
    root,
    lock,
    log: hostLog,
    reconnect: () => c.reconnect(),
    ...commands,
  });
  const connections = await step.fleet.connections();
  const { outcomes } = await rollout(connections, {
    parallel: step.parallel,
    onFailure: step.onFailure,
    log,
    title: (host) => `${host}: roll back to ${release.id}`,
    // No release phase: a rollback runs no release command, as run-action's default.
    stage: (c, onPhase, hostLog) =>
      stageRollback(c.transport, {
        ...common(c, hostLog),
        onPhase,
        beforeChange: deployment?.beforeChange,
        to: release.id,
        manifestBytes: release.bytes,
      }),
    putBack: (c, to, hostLog) => rollbackHost(c.transport, { ...common(c, hostLog), to }),
    current: async (c) => (await readHostState(c.transport, { root, log })).current,
  }).catch(async (error: unknown) => {
    await deployment?.finish('error', { description: formatError(error) });
    throw error;
  });
  // A refused Deployment: every host waited for it, so none changed.
  let deploymentId: number | undefined;
  try {
    deploymentId = await deployment?.id();
  } catch (error) {
    throw deploymentRefused(error, step.deployment!.token);
  }
  const fleet = fleetResult(outcomes, { releaseId: release.id, rollback: true });
  await deployment?.finish(fleet.failed ? 'failure' : 'success', {
    description: `${release.id}: ${fleet.headline}`,
  });
  return { outcomes, fleet, deploymentId };
}
