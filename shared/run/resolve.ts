import { ConfigurationError } from '../errors.js';
import type { GitHub } from '../github.js';
import type { HostState } from '../hosts/engine.js';
import { findRelease, latestRelease, type LedgerEntry, type LedgerScope } from '../ledger.js';

/** `latest` or an explicit ID, looked up in the ledger: published releases only. */
export async function resolveFromLedger(
  github: GitHub,
  scope: LedgerScope,
  selector: string,
): Promise<LedgerEntry> {
  const where = `${scope.app}/${scope.environment}`;
  if (selector === 'latest') {
    const latest = await latestRelease(github, scope);
    if (!latest) {
      throw new ConfigurationError(
        `Input 'release-id': ${where} has no published release yet; run release-action first`,
      );
    }
    return latest;
  }
  const entry = await findRelease(github, scope, selector);
  if (!entry) {
    throw new ConfigurationError(
      `Input 'release-id': ${where} has no published release ${selector} (no GitHub Release tagged ${where}/${selector})`,
    );
  }
  return entry;
}

/**
 * What `previous` means on these hosts: the last good release before the current one, from each
 * host's history. Every host must name the same one, else going back would split the fleet.
 */
export function previousFromHosts(states: readonly HostState[]): {
  id: string;
  current: string | undefined;
} {
  const ids = new Set(states.map((state) => state.previous));
  const currents = new Set(states.map((state) => state.current));
  if (ids.size > 1 || currents.size > 1) {
    const described = states
      .map(
        (state) =>
          `${state.host} is on ${state.current ?? 'nothing'}, previous ${state.previous ?? 'none'}`,
      )
      .join('; ');
    throw new ConfigurationError(
      `Input 'release-id': previous: the hosts disagree (${described}); deploy an explicit release-id to bring them together`,
    );
  }
  const missing = states.filter((state) => state.previous === undefined);
  if (missing.length > 0) {
    const described = missing
      .map((state) =>
        state.current === undefined
          ? `${state.host} has nothing deployed`
          : `${state.host} has no good release before ${state.current} left on it`,
      )
      .join('; ');
    throw new ConfigurationError(
      `Input 'release-id': previous: ${described}; deploy an explicit release-id instead`,
    );
  }
  return { id: states[0]!.previous!, current: states[0]!.current };
}
