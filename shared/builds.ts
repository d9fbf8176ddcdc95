import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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

export interface FindBuildOptions {
  app: string;
  sha: string;
  repository: Repository;
  runId: string;
  token: string;
  github: GitHub;
  artifacts: ArtifactClient;
  /** Restores the cache entry of a build into `directory`; returns whether it hit. */
  restoreFromCache?: (directory: string) => Promise<boolean>;
  directory: string;
  log: Log;
}

async function onlyFile(directory: string): Promise<string> {
  const names = await readdir(directory);
  if (names.length !== 1)
    throw new Error(`expected one downloaded file in ${directory}, found ${names.length}`);
  return path.join(directory, names[0] as string);
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

/**
 * Finds the build of a commit: in this run's artifacts, then in earlier runs' (through the REST
 * API, by artifact name), then in the cache. Its bundle's digest is checked against its facts.
 */
export async function findBuild(options: FindBuildOptions): Promise<FoundBuild> {
  const factsName = factsFileName(options.app, options.sha);
  const download = async (factsId: number, bundleId: number, findBy?: number) => {
    const find = findBy
      ? {
          findBy: {
            token: options.token,
            workflowRunId: findBy,
            repositoryOwner: options.repository.owner,
            repositoryName: options.repository.repo,
          },
        }
      : {};
    const factsDir = await mkdtemp(path.join(options.directory, 'facts-'));
    const bundleDir = await mkdtemp(path.join(options.directory, 'bundle-'));
    await options.artifacts.downloadArtifact(factsId, { path: factsDir, ...find });
    await options.artifacts.downloadArtifact(bundleId, { path: bundleDir, ...find });
    const facts = parseBuildFacts(JSON.parse(await readFile(await onlyFile(factsDir), 'utf8')));
    return { facts, bundlePath: await onlyFile(bundleDir) };
  };

  const inRun = await options.artifacts.listArtifacts({ latest: true });
  const factsHere = inRun.artifacts.find((artifact) => artifact.name === factsName);
  if (factsHere) {
    const bundles = inRun.artifacts.filter((artifact) =>
      artifact.name.startsWith(`${options.app}-${options.sha}.tar.`),
    );
    const bundle = bundles[0];
    if (bundle)
      return verified(
        { ...(await download(factsHere.id, bundle.id)), source: 'this run' },
        options.log,
      );
  }

  const listed = await options.github.rest.actions.listArtifactsForRepo({
    ...options.repository,
    name: factsName,
    per_page: 100,
  });
  const earlier = listed.data.artifacts
    .filter((artifact) => !artifact.expired && artifact.workflow_run?.id !== undefined)
    .sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''));
  for (const factsArtifact of earlier) {
    const runId = factsArtifact.workflow_run?.id as number;
    const runArtifacts = await options.github.rest.actions.listWorkflowRunArtifacts({
      ...options.repository,
      run_id: runId,
      per_page: 100,
    });
    const bundle = runArtifacts.data.artifacts.find(
      (artifact) =>
        !artifact.expired && artifact.name.startsWith(`${options.app}-${options.sha}.tar.`),
    );
    if (!bundle) continue;
    return verified(
      { ...(await download(factsArtifact.id, bundle.id, runId)), source: `run ${runId}` },
      options.log,
    );
  }

  if (options.restoreFromCache) {
    const dir = path.join(options.directory, 'cache');
    await mkdir(dir, { recursive: true });
    if (await options.restoreFromCache(dir)) {
      const facts = parseBuildFacts(JSON.parse(await readFile(path.join(dir, factsName), 'utf8')));
      const bundlePath = path.join(
        dir,
        bundleFileName(options.app, options.sha, facts.compression),
      );
      return verified({ facts, bundlePath, source: 'cache' }, options.log);
    }
    await rm(dir, { recursive: true, force: true });
  }

  throw new ConfigurationError(
    `No build of ${options.app} at ${options.sha} in this run, in earlier runs' artifacts, or in the cache: run build-action for this commit first`,
  );
}
