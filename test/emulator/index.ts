import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlobStore } from './blob-store.js';
import { githubContract, type Contract } from './contract.js';
import { Faults } from './faults.js';
import { artifactRoutes } from './rest/artifacts.js';
import { assetRoutes } from './rest/assets.js';
import { deploymentRoutes } from './rest/deployments.js';
import { gitRoutes } from './rest/git.js';
import { releaseRoutes } from './rest/releases.js';
import { repositoryJson } from './rest/render.js';
import { runRoutes } from './rest/runs.js';
import { restListener, type RestHandler } from './rest/server.js';
import { artifactService } from './results/artifacts.js';
import { cacheService } from './results/cache.js';
import { twirpListener } from './results/twirp.js';
import { controls, runnerEnvironments } from './controls.js';
import type { RulesetOptions, SeedOptions } from './seed.js';
import type { RepositorySnapshot } from './snapshot.js';
import { State, actionsBot, type RepositoryOptions } from './state.js';
import type { RequestRecord, Violation, World } from './world.js';

export type { Fault, FaultHandle, FaultOptions } from './faults.js';
export type { RepositorySnapshot } from './snapshot.js';
export type { RepositoryOptions } from './state.js';
export type { RulesetOptions, SeedOptions } from './seed.js';
export type { RequestRecord, Violation } from './world.js';

export interface RunnerOptions {
  /** `owner/name`; made with default settings if it does not exist. Default `acme/shop`. */
  repository?: string;
  /** GITHUB_RUN_ID; a new run when not given. */
  runId?: number;
  /** The job's backend ID in the runtime token; a new one when not given. */
  jobId?: string;
  /** GITHUB_TOKEN; a new valid token when not given (a given one becomes valid). */
  token?: string;
  /** GITHUB_REF and the cache scope; default the repository's default branch. */
  ref?: string;
  /** GITHUB_SHA and the run's head_sha; default the ref's commit. */
  sha?: string;
  /** GITHUB_RUN_ATTEMPT: each attempt has its own artifacts. Default 1. */
  attempt?: number;
  /** A fork's pull request: the run's head repository (`evil/shop`), made if missing. */
  headRepository?: string;
}

export interface RepositoryHandle {
  fullName: string;
  id: number;
  defaultBranch: string;
  /** The default branch's head commit. */
  headSha: string;
}

export interface GitHubEmulator {
  /** GITHUB_API_URL. */
  apiUrl: string;
  /** Where release `upload_url`s point (GitHub's uploads.github.com). */
  uploadsUrl: string;
  /** GITHUB_SERVER_URL: `http://github.localhost:<port>`, compared as text by the toolkit only. */
  serverUrl: string;
  /** ACTIONS_RESULTS_URL. */
  resultsUrl: string;
  /** Blob storage as the signed URLs reach it. */
  blobUrl: string;
  /** A valid token (github-actions[bot]). */
  token: string;
  /** The variables a runner gives a job, pointing at this emulator. */
  runnerEnv(options?: RunnerOptions): Record<string, string>;
  createRepository(fullName: string, options?: RepositoryOptions): RepositoryHandle;
  /** Points a ref (`refs/heads/main`, `refs/tags/x`) at a commit, as a push would. */
  setRef(fullName: string, ref: string, sha: string): void;
  /**
   * Says what a commit's `.github/workflows/` holds, as a label: the Actions token may not tag
   * or release a commit whose label differs from the default branch head's.
   */
  setWorkflows(fullName: string, sha: string, label: string): void;
  /** Adds a ruleset (by default an active tag ruleset restricting creation); returns its ID. */
  addRuleset(fullName: string, ruleset: RulesetOptions): number;
  /** Marks every attempt of a run completed, as when its last job ends. */
  completeRun(fullName: string, runId: number): void;
  /** Removes every cache entry of a repository, as eviction after 7 days unused does. */
  evictCaches(fullName: string): void;
  /** Puts published releases (tags at the default branch's head, no assets) straight into state. */
  seedReleases(fullName: string, seed: SeedOptions): void;
  /** REST requests made with this token: one step's, when each step has its own. */
  requestsBy(token: string): RequestRecord[];
  /** What the emulated GitHub holds, copied. */
  state: {
    repository(fullName: string): RepositorySnapshot;
    repositories(): string[];
  };
  faults: Faults;
  /** Contract violations and unknown routes seen so far. */
  violations(): Violation[];
  clearViolations(): void;
  /** Every request answered, in order. */
  requests(): RequestRecord[];
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string;
}

async function listen(server: http.Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Starts a local GitHub on free ports: the REST API (checked against GitHub's OpenAPI
 * description), the uploads origin, the Actions results services and Azurite blob storage.
 */
export async function startGitHub(options: EmulatorOptions = {}): Promise<GitHubEmulator> {
  const host = options.host ?? '127.0.0.1';
  const faults = new Faults();
  const instance = randomBytes(4).toString('hex');
  const blobsStarting = BlobStore.start(faults, `e${instance}`);
  let contract: Contract;
  let blobs: BlobStore;
  try {
    contract = githubContract();
  } finally {
    blobs = await blobsStarting;
  }

  const servers = [http.createServer(), http.createServer(), http.createServer()];
  const [api, uploads, results] = servers as [http.Server, http.Server, http.Server];
  const ports: number[] = [];
  try {
    for (const server of servers) {
      server.keepAliveTimeout = 5000;
      ports.push(await listen(server, host));
    }
  } catch (error) {
    await blobs.stop();
    throw error;
  }
  const [apiPort, uploadsPort, resultsPort] = ports;
  const state = new State();
  const world: World = {
    state,
    blobs,
    contract,
    faults,
    urls: {
      api: `http://${host}:${apiPort}`,
      uploads: `http://${host}:${uploadsPort}`,
      server: `http://github.localhost:${apiPort}`,
      results: `http://${host}:${resultsPort}`,
    },
    violations: [],
    requests: [],
    tokenKey: randomBytes(32),
  };
  const routes: Record<string, RestHandler> = {
    ...releaseRoutes,
    ...gitRoutes,
    ...assetRoutes,
    ...deploymentRoutes,
    ...artifactRoutes,
    ...runRoutes,
    'repos/get': (context) => ({
      status: 200,
      body: repositoryJson(context.world, context.repository),
    }),
  };
  api.on('request', restListener(world, 'api', routes));
  uploads.on('request', restListener(world, 'uploads', routes));
  results.on(
    'request',
    twirpListener(world, { ArtifactService: artifactService, CacheService: cacheService }),
  );

  const token = `ghs_${randomBytes(18).toString('hex')}`;
  state.tokens.set(token, actionsBot);

  return {
    apiUrl: world.urls.api,
    uploadsUrl: world.urls.uploads,
    serverUrl: world.urls.server,
    resultsUrl: world.urls.results,
    blobUrl: blobs.endpoint,
    token,
    faults,
    runnerEnv: runnerEnvironments(world),
    ...controls(world),

    async stop() {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
      await blobs.stop();
    },
  };
}
