import { randomBytes, randomUUID } from 'node:crypto';
import type { GitHubEmulator, RunnerOptions } from './index.js';
import { mintRuntimeToken } from './runtime-token.js';
import { seedReleases } from './seed.js';
import { snapshot } from './snapshot.js';
import { actionsBot, type State } from './state.js';
import type { World } from './world.js';

/** What a test holds of the emulator besides its URLs: a runner's variables, and the state. */

function repositoryLookup(state: State) {
  return (fullName: string, create = false) => {
    const [owner = '', name = ''] = fullName.split('/');
    const repository =
      state.repository(owner, name) ?? (create ? state.createRepository(fullName) : undefined);
    if (!repository) throw new Error(`The emulator has no repository ${fullName}`);
    return repository;
  };
}

/** The variables a runner gives a job: a new run (or attempt) of a repository, a new token. */
export function runnerEnvironments(world: World): GitHubEmulator['runnerEnv'] {
  const { state } = world;
  const repositoryOf = repositoryLookup(state);
  let nextRun = 1001;
  return (runner: RunnerOptions = {}) => {
    const repository = repositoryOf(runner.repository ?? 'acme/shop', true);
    const defaultRef = `refs/heads/${repository.defaultBranch}`;
    const ref = runner.ref ?? defaultRef;
    const runId = runner.runId ?? nextRun++;
    nextRun = Math.max(nextRun, runId + 1);
    const head = runner.headRepository;
    const run = state.run(repository, runId, {
      ref,
      ...(runner.sha ? { sha: runner.sha } : {}),
      ...(runner.attempt ? { attempt: runner.attempt } : {}),
      ...(head ? { headRepositoryId: repositoryOf(head, true).id } : {}),
    });
    const jobToken = runner.token ?? `ghs_${randomBytes(18).toString('hex')}`;
    state.tokens.set(jobToken, actionsBot);
    const scopes = [{ scope: ref, permission: 3 }];
    if (ref !== defaultRef) scopes.push({ scope: defaultRef, permission: 1 });
    const runtimeToken = mintRuntimeToken(
      world.tokenKey,
      { runBackendId: run.backendId, jobBackendId: runner.jobId ?? randomUUID() },
      scopes,
    );
    return {
      GITHUB_API_URL: world.urls.api,
      GITHUB_SERVER_URL: world.urls.server,
      GITHUB_GRAPHQL_URL: `${world.urls.api}/graphql`,
      GITHUB_REPOSITORY: repository.fullName,
      GITHUB_REPOSITORY_OWNER: repository.owner,
      GITHUB_REPOSITORY_ID: String(repository.id),
      GITHUB_RUN_ID: String(runId),
      GITHUB_RUN_ATTEMPT: String(run.attempt),
      GITHUB_REF: ref,
      GITHUB_REF_NAME: ref.replace(/^refs\/(heads|tags)\//, ''),
      GITHUB_SHA: run.headSha,
      GITHUB_TOKEN: jobToken,
      ACTIONS_RESULTS_URL: `${world.urls.results}/`,
      ACTIONS_RUNTIME_URL: `${world.urls.results}/`,
      ACTIONS_CACHE_URL: `${world.urls.results}/`,
      ACTIONS_RUNTIME_TOKEN: runtimeToken,
      ACTIONS_CACHE_SERVICE_V2: 'True',
    };
  };
}

type Controls = Omit<
  GitHubEmulator,
  | 'apiUrl'
  | 'uploadsUrl'
  | 'serverUrl'
  | 'resultsUrl'
  | 'blobUrl'
  | 'token'
  | 'faults'
  | 'runnerEnv'
  | 'stop'
>;

/** Repositories, refs, rulesets, runs and caches set directly; what was asked, read back. */
export function controls(world: World): Controls {
  const { state } = world;
  const repositoryOf = repositoryLookup(state);
  return {
    createRepository(fullName, repositoryOptions) {
      const repository = state.createRepository(fullName, repositoryOptions);
      return {
        fullName: repository.fullName,
        id: repository.id,
        defaultBranch: repository.defaultBranch,
        headSha: repository.refs.get(`refs/heads/${repository.defaultBranch}`) ?? '',
      };
    },
    setRef(fullName, ref, sha) {
      repositoryOf(fullName).refs.set(ref, sha);
    },
    setWorkflows(fullName, sha, label) {
      repositoryOf(fullName).workflows.set(sha, label);
    },
    addRuleset(fullName, ruleset) {
      const id = state.id();
      repositoryOf(fullName).rulesets.push({
        id,
        name: ruleset.name,
        target: ruleset.target ?? 'tag',
        enforcement: ruleset.enforcement ?? 'active',
        include: ruleset.include,
        exclude: ruleset.exclude ?? [],
        rules: ruleset.rules ?? ['creation'],
        createdAt: state.now(),
      });
      return id;
    },
    completeRun(fullName, runId) {
      for (const run of state.attempts(repositoryOf(fullName), runId)) run.status = 'completed';
    },
    evictCaches(fullName) {
      const keep = state.caches.filter((entry) => entry.repository !== fullName);
      state.caches.splice(0, state.caches.length, ...keep);
    },
    seedReleases(fullName, seed) {
      seedReleases(state, repositoryOf(fullName), seed);
    },
    requestsBy: (token) =>
      structuredClone(world.requests.filter((record) => record.token === token)),
    state: {
      repository: (fullName) => snapshot(state, repositoryOf(fullName)),
      repositories: () => [...state.repositories.values()].map((r) => r.fullName),
    },
    violations: () => structuredClone(world.violations),
    clearViolations: () => {
      world.violations.length = 0;
    },
    requests: () => structuredClone(world.requests),
  };
}
