import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactClient } from '@actions/artifact';
import { ConfigurationError } from './errors.js';
import type { GitHub, Repository } from './github.js';
import type { Log } from './log.js';
import { bundleDigest, type Compression } from './bundle.js';
import { parseBuildFacts, type BuildFacts } from './manifest.js';

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

export interface FoundBuild {
  facts: BuildFacts;
  bundlePath: string;
  /** Where it came from, for the log and the summary. */
  source: 'this run' | `run ${string}` | 'cache';
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
  runId: string;
  token: string;
  github: GitHub;
  artifacts: ArtifactClient;
  /** Restores the build's cache entry; returns the directory holding its files, or undefined. */
  restoreFromCache?: () => Promise<string | undefined>;
  /** Scratch space for downloads. */
  directory: string;
  log: Log;
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
    throw new ConfigurationError(
      `The build facts from ${where} are for ${facts.app} at ${facts.sha}, not ${options.app} at ${options.sha}`,
    );
  }
  return facts;
}

async function verified(found: FoundBuild, log: Log): Promise<FoundBuild> {
  const digest = await bundleDigest(found.bundlePath);
  if (digest !== found.facts.digest) {
    throw new ConfigurationError(
      `The build of ${found.facts.sha} from ${found.source} does not match its recorded digest (${found.facts.digest}, got ${digest}); rebuild it`,
    );
  }
  log.info(`Found the build of ${found.facts.sha} in ${found.source}: ${digest}`);
  return found;
}

interface ListedArtifact {
  id: number;
  name: string;
}

/**
 * Finds the build of a commit: in this run's artifacts, then in earlier runs' (through the REST
 * API, by artifact name), then in the cache. The bundle is the artifact its facts name, and its
 * digest is checked against them.
 */
export async function findBuild(options: FindBuildOptions): Promise<FoundBuild> {
  const factsName = factsFileName(options.app, options.sha);
  const fromArtifacts = async (
    factsArtifact: ListedArtifact,
    runArtifacts: ListedArtifact[],
    source: FoundBuild['source'],
    runId?: number,
  ): Promise<FoundBuild | undefined> => {
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
    await options.artifacts.downloadArtifact(factsArtifact.id, { path: factsDir, ...find });
    const facts = await readFacts(await onlyFile(factsDir), options, source);
    const bundle = runArtifacts.find((artifact) => artifact.name === facts.artifact.name);
    if (!bundle) return undefined;
    const bundleDir = await mkdtemp(path.join(options.directory, 'bundle-'));
    await options.artifacts.downloadArtifact(bundle.id, { path: bundleDir, ...find });
    return verified({ facts, bundlePath: await onlyFile(bundleDir), source }, options.log);
  };

  const inRun = (await options.artifacts.listArtifacts({ latest: true })).artifacts;
  const factsHere = inRun.find((artifact) => artifact.name === factsName);
  if (factsHere) {
    const found = await fromArtifacts(factsHere, inRun, 'this run');
    if (found) return found;
  }

  const listed = await options.github.paginate(options.github.rest.actions.listArtifactsForRepo, {
    ...options.repository,
    name: factsName,
    per_page: 100,
  });
  const earlier = listed
    .filter((artifact) => !artifact.expired && artifact.workflow_run?.id !== undefined)
    .sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''));
  for (const factsArtifact of earlier) {
    const runId = factsArtifact.workflow_run?.id as number;
    if (String(runId) === options.runId) continue;
    const runArtifacts = await options.github.paginate(
      options.github.rest.actions.listWorkflowRunArtifacts,
      { ...options.repository, run_id: runId, per_page: 100 },
    );
    const found = await fromArtifacts(
      factsArtifact,
      runArtifacts.filter((artifact) => !artifact.expired),
      `run ${runId}`,
      runId,
    );
    if (found) return found;
  }

  if (options.restoreFromCache) {
    const dir = await options.restoreFromCache();
    if (dir !== undefined) {
      const facts = await readFacts(path.join(dir, factsName), options, 'the cache');
      const bundlePath = path.join(
        dir,
        bundleFileName(options.app, options.sha, facts.compression),
      );
      return verified({ facts, bundlePath, source: 'cache' }, options.log);
    }
  }

  throw new ConfigurationError(
    `No build of ${options.app} at ${options.sha} in this run, in earlier runs' artifacts, or in the cache: run build-action for this commit first`,
  );
}
