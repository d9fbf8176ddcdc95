import { ConfigurationError, previousFromHosts, releaseTag, type HostState } from '../core.js';

export interface RollbackScope {
  app: string;
  environment: string;
}

/** The deploy that puts a release on the hosts: the rollback workflow, which uploads it. */
export function deployHint(scope: RollbackScope, id: string): string {
  return `deploy it first, from GitHub Actions: gh workflow run rollback.yml -f environment=${scope.environment} -f release-id=${id} (run-action uploads a release the hosts do not hold)`;
}

function previousOf(states: readonly HostState[], scope: RollbackScope): string {
  try {
    return previousFromHosts(states).id;
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    // The same finding as run-action's `previous`, said for brr: no input, brr's own remedy.
    throw new ConfigurationError({
      ...error.problem,
      input: undefined,
      hint: `name the release to go back to: brr rollback ${scope.environment} <id> (brr status ${scope.environment} shows what each host holds)`,
    });
  }
}

/**
 * The release to go back to: `previous` is the hosts' last good release before the current one,
 * as run-action reads it; an ID must be on every host already, since a rollback uploads nothing.
 */
export function rollbackTarget(
  states: readonly HostState[],
  selector: string,
  scope: RollbackScope,
): string {
  const id = selector === 'previous' ? previousOf(states, scope) : selector;
  const missing = states.filter((state) => !state.releases.some((release) => release.id === id));
  if (missing.length > 0) {
    const where = missing
      .map((state) => {
        const held = state.releases.map((release) => release.id).join(', ') || 'none';
        return `${state.host} (releases there: ${held})`;
      })
      .join('; ');
    throw new ConfigurationError({
      subject: `release ${releaseTag(scope.app, scope.environment, id)}`,
      problem: `is not on ${missing.length === states.length ? 'the hosts' : 'every host'}: not on ${where}`,
      hint: deployHint(scope, id),
    });
  }
  return id;
}
