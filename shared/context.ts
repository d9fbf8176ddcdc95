import path from 'node:path';
import os from 'node:os';
import type { Log } from './log.js';

/** What an action knows about the workflow run it is part of. Built once, at the entry. */
export interface ActionContext {
  workspace: string;
  tempDir: string;
  owner: string;
  repo: string;
  sha: string;
  ref: string;
  actor: string;
  eventName: string;
  eventPath: string | undefined;
  runId: string;
  runAttempt: string;
  serverUrl: string;
  apiUrl: string;
  /**
   * Where this action comes from, as a workflow names it in `uses:` (`owner/repo/run-action@ref`):
   * from GITHUB_ACTION_REPOSITORY and GITHUB_ACTION_REF; undefined for an action in the
   * workflow's own repository (`uses: ./run-action`).
   */
  actionRepository: string | undefined;
  actionRef: string | undefined;
  /** The environment the runner gave the step: the @actions clients read their tokens from it. */
  env: Readonly<Record<string, string | undefined>>;
  log: Log;
  /** Aborts when the job is cancelled, for a stage that has something to undo first. */
  signal: AbortSignal;
}

/** The address of this workflow run's page, kept in locks, histories, releases and Deployments. */
export function runUrl(
  context: Pick<ActionContext, 'serverUrl' | 'owner' | 'repo' | 'runId'>,
): string {
  return `${context.serverUrl}/${context.owner}/${context.repo}/actions/runs/${context.runId}`;
}

export function contextFromEnv(
  env: Record<string, string | undefined>,
  log: Log,
  signal: AbortSignal = new AbortController().signal,
): ActionContext {
  const [owner = '', repo = ''] = (env.GITHUB_REPOSITORY ?? '').split('/');
  return {
    workspace: path.resolve(env.GITHUB_WORKSPACE ?? process.cwd()),
    tempDir: env.RUNNER_TEMP ?? os.tmpdir(),
    owner,
    repo,
    sha: env.GITHUB_SHA ?? '',
    ref: env.GITHUB_REF ?? '',
    actor: env.GITHUB_ACTOR ?? '',
    eventName: env.GITHUB_EVENT_NAME ?? '',
    eventPath: env.GITHUB_EVENT_PATH,
    runId: env.GITHUB_RUN_ID ?? '',
    runAttempt: env.GITHUB_RUN_ATTEMPT ?? '1',
    serverUrl: env.GITHUB_SERVER_URL ?? 'https://github.com',
    apiUrl: env.GITHUB_API_URL ?? 'https://api.github.com',
    actionRepository: env.GITHUB_ACTION_REPOSITORY || undefined,
    actionRef: env.GITHUB_ACTION_REF || undefined,
    env,
    log,
    signal,
  };
}

type Where = Pick<
  ActionContext,
  'serverUrl' | 'owner' | 'repo' | 'sha' | 'actionRepository' | 'actionRef'
>;

/**
 * How a workflow names one of this project's actions in `uses:`, as the running action was
 * named: `acme/build-release-run/run-action@v1`; `./run-action` when the action comes from the
 * workflow's own repository.
 */
export function actionUses(context: Where, action: string): string {
  if (context.actionRepository === undefined) return `./${action}`;
  return `${context.actionRepository}/${action}@${context.actionRef ?? 'main'}`;
}

/** A page of this project's docs (or, for `''`, their folder), at the version of the action that runs. */
export function docUrl(context: Where, page: string): string {
  return context.actionRepository === undefined
    ? `${context.serverUrl}/${context.owner}/${context.repo}/blob/${context.sha}/docs/${page}`
    : `${context.serverUrl}/${context.actionRepository}/blob/${context.actionRef ?? 'main'}/docs/${page}`;
}
