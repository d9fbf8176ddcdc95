import type { DeploymentState, DeploymentStatusState } from '../state.js';
import { HttpError } from '../world.js';
import { resolveCommitish } from './git.js';
import { deploymentJson, deploymentStatusJson, paginate } from './render.js';
import { validation } from './releases.js';
import { writer, type RestContext, type RestHandler } from './server.js';

/** Deployments and their statuses, with `auto_inactive` and transient environments. */

interface DeploymentBody {
  ref: string;
  task?: string;
  payload?: Record<string, unknown> | string;
  environment?: string;
  description?: string | null;
  transient_environment?: boolean;
  production_environment?: boolean;
}

interface StatusBody {
  state: DeploymentStatusState['state'];
  target_url?: string;
  log_url?: string;
  description?: string;
  environment?: string;
  environment_url?: string;
  auto_inactive?: boolean;
}

function findDeployment(context: RestContext): DeploymentState {
  const deployment = context.repository.deployments.find(
    (d) => d.id === context.params.deployment_id,
  );
  if (!deployment) throw new HttpError(404, 'Not Found');
  return deployment;
}

const createDeployment: RestHandler = (context) => {
  const { repository, world } = context;
  const body = context.body as DeploymentBody;
  const sha = resolveCommitish(repository, body.ref);
  if (!sha) throw new HttpError(422, `No ref found for: ${body.ref}`);
  const environment = body.environment ?? 'production';
  const now = world.state.now();
  const deployment: DeploymentState = {
    id: world.state.id(),
    sha,
    ref: body.ref,
    task: body.task ?? 'deploy',
    payload: body.payload === undefined || body.payload === '' ? {} : body.payload,
    environment,
    originalEnvironment: environment,
    description: body.description ?? '',
    transientEnvironment: body.transient_environment ?? false,
    productionEnvironment: body.production_environment ?? environment === 'production',
    creator: writer(context),
    createdAt: now,
    updatedAt: now,
    statuses: [],
  };
  repository.deployments.push(deployment);
  return { status: 201, body: deploymentJson(world, repository, deployment) };
};

/**
 * `auto_inactive` (default true): a new `success` marks earlier successful deployments of the same
 * environment inactive, for non-transient, non-production environments, as GitHub documents.
 */
const createStatus: RestHandler = (context) => {
  const { repository, world } = context;
  const deployment = findDeployment(context);
  const body = context.body as StatusBody;
  // GitHub keeps a status's description to 140 characters, and refuses a longer one.
  if ([...(body.description ?? '')].length > 140) {
    throw validation(
      'DeploymentStatus',
      'description',
      'custom',
      'description is too long (maximum is 140 characters)',
    );
  }
  const now = world.state.now();
  const creator = writer(context);
  if (body.environment !== undefined) deployment.environment = body.environment;
  const status: DeploymentStatusState = {
    id: world.state.id(),
    state: body.state,
    description: body.description ?? '',
    environment: deployment.environment,
    environmentUrl: body.environment_url ?? '',
    logUrl: body.log_url ?? body.target_url ?? '',
    targetUrl: body.target_url ?? body.log_url ?? '',
    creator,
    createdAt: now,
  };
  deployment.statuses.push(status);
  deployment.updatedAt = now;
  if (body.state === 'success' && body.auto_inactive !== false) {
    for (const other of repository.deployments) {
      if (
        other === deployment ||
        other.environment !== deployment.environment ||
        other.transientEnvironment ||
        other.productionEnvironment ||
        other.statuses.at(-1)?.state !== 'success'
      ) {
        continue;
      }
      other.statuses.push({
        ...status,
        id: world.state.id(),
        state: 'inactive',
        description: '',
        environmentUrl: '',
        logUrl: '',
        targetUrl: '',
      });
      other.updatedAt = now;
    }
  }
  return { status: 201, body: deploymentStatusJson(world, repository, deployment, status) };
};

export const deploymentRoutes: Record<string, RestHandler> = {
  'repos/create-deployment': createDeployment,
  'repos/list-deployments': (context) => {
    const { query } = context;
    const matching = context.repository.deployments
      .filter(
        (d) =>
          (query.sha === undefined || d.sha === query.sha) &&
          (query.ref === undefined || d.ref === query.ref) &&
          (query.task === undefined || d.task === query.task) &&
          (query.environment === undefined || d.environment === query.environment),
      )
      .sort((a, b) => b.id - a.id);
    const page = paginate(context, matching);
    return {
      status: 200,
      body: page.items.map((d) => deploymentJson(context.world, context.repository, d)),
      headers: page.headers,
    };
  },
  'repos/get-deployment': (context) => ({
    status: 200,
    body: deploymentJson(context.world, context.repository, findDeployment(context)),
  }),
  'repos/delete-deployment': (context) => {
    const deployment = findDeployment(context);
    const { repository } = context;
    const inactive = deployment.statuses.at(-1)?.state === 'inactive';
    if (!inactive && repository.deployments.length > 1) {
      throw new HttpError(
        422,
        'We cannot delete an active deployment unless it is the only deployment in a given environment.',
      );
    }
    repository.deployments = repository.deployments.filter((d) => d !== deployment);
    return { status: 204 };
  },
  'repos/create-deployment-status': createStatus,
  'repos/list-deployment-statuses': (context) => {
    const deployment = findDeployment(context);
    const page = paginate(context, [...deployment.statuses].reverse());
    return {
      status: 200,
      body: page.items.map((status) =>
        deploymentStatusJson(context.world, context.repository, deployment, status),
      ),
      headers: page.headers,
    };
  },
  'repos/get-deployment-status': (context) => {
    const deployment = findDeployment(context);
    const status = deployment.statuses.find((s) => s.id === context.params.status_id);
    if (!status) throw new HttpError(404, 'Not Found');
    return {
      status: 200,
      body: deploymentStatusJson(context.world, context.repository, deployment, status),
    };
  },
};
