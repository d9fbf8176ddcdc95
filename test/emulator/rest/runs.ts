import type { RepositoryState, RunState } from '../state.js';
import { HttpError, type World } from '../world.js';
import { repoApi, repositoryJson, rulesetJson } from './render.js';
import type { RestHandler } from './server.js';

/** Workflow runs (their latest attempt, as GitHub answers) and repository rulesets. */

function headRepository(world: World, repository: RepositoryState, run: RunState) {
  for (const candidate of world.state.repositories.values()) {
    if (candidate.id === run.headRepositoryId) return candidate;
  }
  return repository;
}

function workflowRunJson(world: World, repository: RepositoryState, run: RunState) {
  const api = `${repoApi(world, repository)}/actions/runs/${run.runId}`;
  return {
    id: run.runId,
    node_id: `WFR_${Buffer.from(String(run.runId)).toString('base64url')}`,
    head_branch: run.headBranch,
    run_number: run.runId,
    run_attempt: run.attempt,
    display_title: 'deploy',
    event: 'push',
    status: run.status,
    conclusion: run.status === 'completed' ? 'success' : null,
    head_sha: run.headSha,
    path: '.github/workflows/deploy.yml',
    workflow_id: 1,
    url: api,
    html_url: `${world.urls.server}/${repository.fullName}/actions/runs/${run.runId}`,
    created_at: run.createdAt,
    updated_at: run.createdAt,
    run_started_at: run.createdAt,
    head_commit: null,
    head_repository: repositoryJson(world, headRepository(world, repository, run)),
    repository: repositoryJson(world, repository),
    jobs_url: `${api}/jobs`,
    logs_url: `${api}/logs`,
    check_suite_url: `${repoApi(world, repository)}/check-suites/${run.runId}`,
    cancel_url: `${api}/cancel`,
    rerun_url: `${api}/rerun`,
    artifacts_url: `${api}/artifacts`,
    workflow_url: `${repoApi(world, repository)}/actions/workflows/1`,
    pull_requests: [],
  };
}

export const runRoutes: Record<string, RestHandler> = {
  'actions/get-workflow-run': (context) => {
    const attempts = context.world.state.attempts(
      context.repository,
      Number(context.params.run_id),
    );
    const latest = attempts.at(-1);
    if (!latest) throw new HttpError(404, 'Not Found');
    return { status: 200, body: workflowRunJson(context.world, context.repository, latest) };
  },

  'repos/get-repo-rulesets': (context) => {
    const asked = context.query.targets;
    const targets = (typeof asked === 'string' ? asked : 'branch,tag,push').split(',');
    return {
      status: 200,
      body: context.repository.rulesets
        .filter((ruleset) => targets.includes(ruleset.target))
        .map((ruleset) => rulesetJson(context.world, context.repository, ruleset, false)),
    };
  },

  'repos/get-repo-ruleset': (context) => {
    const ruleset = context.repository.rulesets.find((r) => r.id === context.params.ruleset_id);
    if (!ruleset) throw new HttpError(404, 'Not Found');
    return { status: 200, body: rulesetJson(context.world, context.repository, ruleset, true) };
  },
};
