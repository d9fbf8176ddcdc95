import type { ActionContext } from '../context.js';
import type { VerifiedManifest } from '../verify.js';
import type { FleetResult } from './result.js';
import type { HostOutcome } from './rollout.js';
import type { ReleaseFacts, RollbackHint } from './summary.js';

/** The verified release as the summaries show it. */
export function releaseFacts(app: string, verified: VerifiedManifest): ReleaseFacts {
  return {
    app,
    environment: verified.manifest.environment,
    releaseId: verified.manifest.id,
    releaseUrl: verified.entry.url,
    manifest: verified.manifest,
    manifestDigest: verified.digest,
    signer: verified.signer.principal,
  };
}

/**
 * How to go back after a step that moved every host: the repository's rollback workflow (the
 * one examples/workflows/rollback.yml gives) and its `gh` line. None after a failure.
 */
export function rollbackHint(
  where: Pick<ActionContext, 'serverUrl' | 'owner' | 'repo'> & { environment: string },
  fleet: FleetResult,
  releaseId: string,
): RollbackHint | undefined {
  if (fleet.failed || fleet.before === undefined || fleet.before === releaseId) return undefined;
  const repository = `${where.owner}/${where.repo}`;
  return {
    repository,
    workflowUrl: `${where.serverUrl}/${repository}/actions/workflows/rollback.yml`,
    environment: where.environment,
    to: fleet.before,
  };
}

type HostRelease = { release: string | null; healthy?: boolean } | { reached: false };

/**
 * The `host-releases` output, JSON: what each host runs after the step (`release`, null when
 * nothing is current) and whether it came up (`healthy`, when this step checked), or
 * `reached: false` when the host could not be read.
 */
export function hostReleases(outcomes: readonly HostOutcome[]): string {
  const hosts: Record<string, HostRelease> = {};
  for (const { host, after, healthy } of outcomes) {
    hosts[host] =
      after.kind === 'unknown'
        ? { reached: false }
        : {
            release: after.kind === 'release' ? after.id : null,
            ...(healthy !== undefined ? { healthy } : {}),
          };
  }
  return JSON.stringify(hosts);
}
