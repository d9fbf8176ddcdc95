import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactClient } from '@actions/artifact';
import { bundleDigest, type Compression } from './bundle.js';
import { ConfigurationError } from './errors.js';
import type { GitHub, Repository } from './github.js';
import type { Log } from './log.js';
import { parseBuildFacts, type BuildFacts, type Manifest } from './manifest.js';

/**
 * Where a build lives: two artifacts named by app and full SHA (the bundle, uploaded as is,
 * and its build facts beside it), and one cache entry holding both.
 */

export function bundleFileName(app: string, sha: string, compression: Compression): string {
  return `${app}-${sha}.tar.${compression === 'zstd' ? 'zst' : 'gz'}`;
}

export function factsFileName(app: string, sha: string): string {
  return `${app}-${sha}.build.json`;
}

export function buildId(app: string, sha: string): string {
  return `${app}@${sha}`;
}

export function cacheKey(app: string, sha: string): string {
  return `build-release-run-${app}-${sha}`;
}

/** GitHub takes release assets under 2 GiB: a bigger bundle cannot be released at all. */
export const MAX_ASSET_BYTES = 2 * 1024 ** 3;

/** What a release records of its build. */
export type BuildRecord = Manifest['build'];

export interface FoundBuild {
  build: BuildRecord;
  bundlePath: string;
  /** Where it came from, for the log and the summary. */
  source: 'this run' | `run ${string}` | 'cache' | `release ${string}`;
}

/**
 * Where build-action keeps a bundle and its facts, and where the cache entry restores them:
 * @actions/cache keys an entry by the literal paths saved, so a restore must name the same ones.
 */
export function buildDirectory(home: string, app: string, sha: string): string {
  return path.join(home, '.cache', 'build-release-run', `${app}-${sha}`);
}

/** The paths one cache entry holds: the bundle and its facts. */
export function cachePaths(directory: string, app: string, sha: string, compression: Compression) {
  return [
    path.join(directory, bundleFileName(app, sha, compression)),
    path.join(directory, factsFileName(app, sha)),
  ];
}

export interface FindBuildOptions {
  app: string;
  sha: string;
  repository: Repository;
  /** GITHUB_REPOSITORY_ID: only runs of this repository (not a fork's) supply a build. */
  repositoryId: number | undefined;
  token: string;
  github: GitHub;
  artifacts: ArtifactClient;
  /** Restores the build's cache entry; returns the directory holding its files, or undefined. */
  restoreFromCache?: () => Promise<string | undefined>;
  /** The bundle of an earlier release of the same commit, checked against its signed manifest. */
  fromRelease?: () => Promise<FoundBuild | undefined>;
  /** Scratch space for downloads. */
  directory: string;
  log: Log;
}

/** Refuses a bundle GitHub could not take, before anything is downloaded, tagged or drafted. */
export function checkAssetSize(size: number, what: string): void {
  if (size < MAX_ASSET_BYTES) return;
  throw new ConfigurationError({
    subject: what,
    problem: `the bundle is ${size} bytes; GitHub release assets must be under 2 GiB (${MAX_ASSET_BYTES} bytes)`,
    hint: "leave out what the app does not need at run time (build-action's path), or use zstd",
  });
}

async function onlyFile(directory: string): Promise<string> {
  const names = await readdir(directory);
  if (names.length !== 1)
    throw new Error(`expected one downloaded file in ${directory}, found ${names.length}`);
  return path.join(directory, names[0] as string);
}

async function readFacts(file: string, options: FindBuildOptions, where: string) {
  const facts = parseBuildFacts(
    JSON.parse(await readFile(file, 'utf8')),
    `the build facts of ${options.sha} from ${where}`,
  );
  if (facts.app !== options.app || facts.sha !== options.sha) {
    throw new ConfigurationError({
      subject: `the build facts from ${where}`,
      expected: `${options.app} at ${options.sha}`,
      got: `${facts.app} at ${facts.sha}`,
    });
  }
  checkAssetSize(facts.size, `the build of ${options.sha} from ${where}`);
  return facts;
}

function record(facts: BuildFacts): BuildRecord {
  const { sha, digest, size, compression, artifact } = facts;
  return { sha, digest, size, compression, artifact };
}

async function verified(found: FoundBuild, log: Log): Promise<FoundBuild> {
  const digest = await bundleDigest(found.bundlePath);
  if (digest !== found.build.digest) {
    throw new ConfigurationError({
      subject: `the build of ${found.build.sha} from ${found.source}`,
      problem: 'does not match its recorded digest',
      expected: found.build.digest,
      got: digest,
      hint: 'rebuild it',
    });
  }
  log.info(`Found the build of ${found.build.sha} in ${found.source}: ${digest}`);
  return found;
}

interface ListedArtifact {
  id: number;
  name: string;
}

interface RunArtifacts {
  facts: ListedArtifact;
  all: ListedArtifact[];
  source: FoundBuild['source'];
  /** Another run's, downloaded through the REST API. */
  runId?: number;
}

/** Facts, then the bundle they name, from one run's artifacts (another run's through REST). */
async function fromArtifacts(
  options: FindBuildOptions,
  run: RunArtifacts,
): Promise<FoundBuild | undefined> {
  const { runId, source } = run;
  const find =
    runId === undefined
      ? {}
      : {
          findBy: {
            token: options.token,
            workflowRunId: runId,
            repositoryOwner: options.repository.owner,
            repositoryName: options.repository.repo,
          },
        };
  const factsDir = await mkdtemp(path.join(options.directory, 'facts-'));
  await options.artifacts.downloadArtifact(run.facts.id, { path: factsDir, ...find });
  const facts = await readFacts(await onlyFile(factsDir), options, source);
  const bundle = run.all.find((artifact) => artifact.name === facts.artifact.name);
  if (!bundle) return undefined;
  const bundleDir = await mkdtemp(path.join(options.directory, 'bundle-'));
  await options.artifacts.downloadArtifact(bundle.id, { path: bundleDir, ...find });
  return verified(
    { build: record(facts), bundlePath: await onlyFile(bundleDir), source },
    options.log,
  );
}

/**
 * Builds of earlier runs and earlier attempts of this run (the results service shows an attempt
 * only its own artifacts), through the REST API: only runs of this repository at exactly this
 * commit. A fork's pull request runs here too and may upload an artifact under any name.
 */
async function fromEarlierRuns(options: FindBuildOptions): Promise<FoundBuild | undefined> {
  const listed = await options.github.paginate(options.github.rest.actions.listArtifactsForRepo, {
    ...options.repository,
    name: factsFileName(options.app, options.sha),
    per_page: 100,
  });
  const earlier = listed
    .filter((artifact) => !artifact.expired && artifact.workflow_run?.id !== undefined)
    .sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''));
  for (const factsArtifact of earlier) {
    const run = factsArtifact.workflow_run;
    const runId = run?.id as number;
    if (
      options.repositoryId === undefined ||
      run?.head_repository_id !== options.repositoryId ||
      run.head_sha !== options.sha
    ) {
      options.log.info(
        `Passed over ${factsArtifact.name} of run ${runId}: that run is not of this repository at ${options.sha}`,
      );
      continue;
    }
    const runArtifacts = await options.github.paginate(
      options.github.rest.actions.listWorkflowRunArtifacts,
      { ...options.repository, run_id: runId, per_page: 100 },
    );
    const found = await fromArtifacts(options, {
      facts: factsArtifact,
      all: runArtifacts.filter((artifact) => !artifact.expired),
      source: `run ${runId}`,
      runId,
    });
    if (found) return found;
  }
  return undefined;
}

async function fromCache(options: FindBuildOptions): Promise<FoundBuild | undefined> {
  const dir = await options.restoreFromCache?.();
  if (dir === undefined) return undefined;
  const facts = await readFacts(
    path.join(dir, factsFileName(options.app, options.sha)),
    options,
    'the cache',
  );
  const bundlePath = path.join(dir, bundleFileName(options.app, options.sha, facts.compression));
  return verified({ build: record(facts), bundlePath, source: 'cache' }, options.log);
}

/**
 * Finds the build of a commit: in this run's artifacts, in earlier runs' and attempts' (this
 * repository's, at this commit), in the cache, then as the bundle of an earlier release of the
 * commit. Its size and digest are checked before anything is released.
 */
export async function findBuild(options: FindBuildOptions): Promise<FoundBuild> {
  const factsName = factsFileName(options.app, options.sha);
  const inRun = (await options.artifacts.listArtifacts({ latest: true })).artifacts;
  const factsHere = inRun.find((artifact) => artifact.name === factsName);
  const found =
    (factsHere &&
      (await fromArtifacts(options, { facts: factsHere, all: inRun, source: 'this run' }))) ||
    (await fromEarlierRuns(options)) ||
    (await fromCache(options)) ||
    (await options.fromRelease?.());
  if (found) return found;
  const cache = options.restoreFromCache ? 'the cache' : 'the cache (not available to this job)';
  const releases = options.fromRelease ? ', earlier releases of the environment' : '';
  throw new ConfigurationError({
    input: 'sha',
    problem: `no build of ${options.app} at ${options.sha} in this run's artifacts, earlier runs' artifacts of this repository, ${cache}${releases}`,
    hint: 'run build-action for this commit first',
  });
}
