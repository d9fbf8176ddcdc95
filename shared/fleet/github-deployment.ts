import { ConfigurationError } from '../errors.js';
import { statusOf, type GitHub, type Repository } from '../github.js';
import type { Log } from '../log.js';

/** Where a run records its GitHub Deployments, and the run's page they link to. */
export interface DeploymentTarget {
  github: GitHub;
  repository: Repository;
  /** The run's page; none for a deployment made outside a workflow (brr). */
  logUrl: string | undefined;
  log: Log;
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

export interface StatusDetails {
  description: string;
  environmentUrl?: string;
}

type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

/** GitHub keeps a deployment's and a status's description to 140 characters. */
function short(text: string): string {
  return text.length <= 140 ? text : `${text.slice(0, 139)}…`;
}

/**
 * Records one GitHub Deployment for this run. Refusals are the token's: say which permission it
 * lacks, or how to switch the record off.
 */
async function createDeployment(
  target: DeploymentTarget,
  request: DeploymentRequest,
): Promise<number> {
  const { github, repository } = target;
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
      throw new ConfigurationError({
        input: 'token',
        problem: `creating a GitHub Deployment was refused (${status})`,
        hint: "give the job 'permissions: deployments: write', or set deployment: false",
      });
    }
    throw error;
  }
  return id;
}

function setStatus(
  target: DeploymentTarget,
  id: number,
  state: DeploymentState,
  details: StatusDetails,
): Promise<unknown> {
  return target.github.rest.repos.createDeploymentStatus({
    ...target.repository,
    deployment_id: id,
    state,
    description: short(details.description),
    ...(target.logUrl !== undefined ? { log_url: target.logUrl } : {}),
    ...(details.environmentUrl ? { environment_url: details.environmentUrl } : {}),
  });
}

/**
 * Sets a status that must not hide the deploy's own outcome (in_progress, sent while hosts
 * change, and the last one): a failure here only warns.
 */
async function reportStatus(
  target: DeploymentTarget,
  id: number,
  state: DeploymentState,
  details: StatusDetails,
): Promise<void> {
  try {
    await setStatus(target, id, state, details);
  } catch (error) {
    target.log.warning(
      `Could not set GitHub Deployment ${id} to ${state}: ${(error as Error).message ?? String(error)}`,
    );
  }
}

/**
 * The run's Deployment, recorded only once a host is about to change: `beforeChange` starts it
 * the first time and every host waits for the same one. A run that changed nothing records none.
 */
export class PendingDeployment {
  private started: Promise<number> | undefined;
  /** The in_progress status, sent once the deployment exists; the last status waits for it. */
  private inProgress: Promise<void> = Promise.resolve();

  constructor(
    private readonly target: DeploymentTarget,
    private readonly request: DeploymentRequest,
  ) {}

  readonly beforeChange = async (): Promise<void> => {
    this.started ??= this.start();
    await this.started;
  };

  /**
   * Creates the deployment and marks it in_progress without holding the hosts back for the
   * second request: Octokit spaces writes a second apart, as GitHub asks of them.
   */
  private async start(): Promise<number> {
    const id = await createDeployment(this.target, this.request);
    const description = `Deploying ${this.request.releaseId}`;
    this.inProgress = reportStatus(this.target, id, 'in_progress', { description });
    return id;
  }

  /** The deployment's ID once recorded; the error that refused it rejects here too. */
  async id(): Promise<number | undefined> {
    return this.started === undefined ? undefined : await this.started;
  }

  async finish(state: 'success' | 'failure' | 'error', details: StatusDetails): Promise<void> {
    const id = await this.id().catch(() => undefined);
    if (id === undefined) return;
    await this.inProgress;
    await reportStatus(this.target, id, state, details);
  }
}

/** Marks the environment's deployments inactive, so GitHub no longer shows it as deployed. */
export async function deactivateDeployments(
  target: DeploymentTarget,
  environment: string,
): Promise<number> {
  const { github, repository } = target;
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
    await setStatus(target, deployment.id, 'inactive', { description: 'Environment torn down' });
    marked++;
  }
  return marked;
}
