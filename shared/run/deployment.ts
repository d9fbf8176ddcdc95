import { ConfigurationError } from '../errors.js';
import { statusOf, type GitHub, type Repository } from '../github.js';
import type { Log } from '../log.js';

/** GitHub keeps a deployment's and a status's description to 140 characters. */
function short(text: string): string {
  return text.length <= 140 ? text : `${text.slice(0, 139)}…`;
}

export interface DeploymentRequest {
  environment: string;
  /** The build's commit: what GitHub shows as deployed. */
  sha: string;
  app: string;
  releaseId: string;
  manifestDigest: string;
  description: string;
  /** A preview (pull request): GitHub marks it inactive by itself once a newer one succeeds. */
  transient: boolean;
  production: boolean;
  rollback: boolean;
}

/**
 * Records one GitHub Deployment for this run, in_progress at once. Refusals are the token's:
 * say which permission it lacks, or how to switch the record off.
 */
export async function startDeployment(
  github: GitHub,
  repository: Repository,
  request: DeploymentRequest,
  logUrl: string,
): Promise<number> {
  let id: number;
  try {
    const { data } = await github.rest.repos.createDeployment({
      ...repository,
      ref: request.sha,
      task: 'deploy',
      auto_merge: false,
      required_contexts: [],
      environment: request.environment,
      description: short(request.description),
      transient_environment: request.transient,
      production_environment: request.production,
      payload: {
        app: request.app,
        release: request.releaseId,
        manifest: request.manifestDigest,
        ...(request.rollback ? { rollback: true } : {}),
      },
    });
    if (!('id' in data)) {
      throw new Error(`GitHub did not create the deployment: ${data.message ?? 'no reason given'}`);
    }
    id = data.id;
  } catch (error) {
    const status = statusOf(error);
    if (status === 403 || status === 404) {
      throw new ConfigurationError(
        `Input 'token': creating a GitHub Deployment was refused (${status}); give the job 'permissions: deployments: write', or set deployment: false`,
      );
    }
    throw error;
  }
  await setDeploymentStatus(github, repository, id, 'in_progress', {
    description: `Deploying ${request.releaseId}`,
    logUrl,
  });
  return id;
}

export async function setDeploymentStatus(
  github: GitHub,
  repository: Repository,
  id: number,
  state: 'in_progress' | 'success' | 'failure' | 'error' | 'inactive',
  details: { description: string; logUrl: string; environmentUrl?: string },
): Promise<void> {
  await github.rest.repos.createDeploymentStatus({
    ...repository,
    deployment_id: id,
    state,
    description: short(details.description),
    log_url: details.logUrl,
    ...(details.environmentUrl ? { environment_url: details.environmentUrl } : {}),
  });
}

/** The last status of a deployment must not hide the deploy's own outcome: a failure here only warns. */
export async function finishDeployment(
  github: GitHub,
  repository: Repository,
  id: number,
  state: 'success' | 'failure' | 'error',
  details: { description: string; logUrl: string; environmentUrl?: string },
  log: Log,
): Promise<void> {
  try {
    await setDeploymentStatus(github, repository, id, state, details);
  } catch (error) {
    log.warning(
      `Could not set GitHub Deployment ${id} to ${state}: ${(error as Error).message ?? String(error)}`,
    );
  }
}
