import { access } from 'node:fs/promises';
import os from 'node:os';
import { DefaultArtifactClient } from '@actions/artifact';
import * as cache from '@actions/cache';
import {
  buildDirectory,
  cacheKey,
  cachePaths,
  checkAssetSize,
  findBuild,
  type FoundBuild,
} from '../builds.js';
import type { ActionContext } from '../context.js';
import { ConfigurationError, formatError } from '../errors.js';
import type { GitHub } from '../github.js';
import { readRelease, type LedgerIndex, type LedgerScope } from '../ledger.js';
import { keySigner, type SigningKey } from '../signature.js';
import { verifyBundle, verifyManifest, type VerifiedManifest } from '../verify.js';

/** Where release-action looks for the build of a commit, in the order it looks. */

export interface LocateOptions {
  app: string;
  sha: string;
  signingKey: SigningKey;
  token: string;
  github: GitHub;
  scope: LedgerScope;
  index: LedgerIndex;
  context: ActionContext;
  scratch: string;
}

/** Releases of the environment searched for an earlier release of the same commit, newest first. */
export const RELEASES_SEARCHED = 10;

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

function cacheRestorer(options: LocateOptions) {
  const { app, sha, context } = options;
  if (!cache.isFeatureAvailable()) return undefined;
  const home = context.env.HOME ?? os.homedir();
  return async () => {
    // Restored where build-action saved it: the cache entry is keyed by those paths.
    const directory = buildDirectory(home, app, sha);
    for (const compression of ['zstd', 'gzip'] as const) {
      const paths = cachePaths(directory, app, sha, compression);
      if (!(await cache.restoreCache(paths, cacheKey(app, sha)))) continue;
      if ((await Promise.all(paths.map(exists))).every(Boolean)) return directory;
      // The entry keeps paths relative to the workspace: another workspace path puts them
      // somewhere else.
      context.log.warning(
        `The cache entry ${cacheKey(app, sha)} did not restore to ${directory} (is the workspace at another path than in the build job?)`,
      );
    }
    return undefined;
  };
}

/**
 * The bundle of an earlier release of the same commit in this environment, once artifacts have
 * expired and the cache is gone: release.json signed by this job's key, naming this app and
 * commit, and the bundle matching its digest.
 */
function releaseSearcher(options: LocateOptions) {
  const { github, scope, sha, app } = options;
  return async (): Promise<FoundBuild | undefined> => {
    const newest = options.index.tags.slice(-RELEASES_SEARCHED).reverse();
    for (const tag of newest) {
      const entry = await readRelease(github, scope, tag.tag);
      // The body names the build's commit: only a release that does is downloaded.
      if (!entry?.body.includes(sha)) continue;
      let release: VerifiedManifest;
      try {
        release = await verifyManifest(github, scope, entry, [
          keySigner(options.signingKey.publicKey),
        ]);
      } catch (error) {
        if (!(error instanceof ConfigurationError)) throw error;
        options.context.log.info(`Passed over the bundle of ${entry.tag}: ${formatError(error)}`);
        continue;
      }
      const { build } = release.manifest;
      if (build.sha !== sha || release.manifest.app !== app) continue;
      checkAssetSize(build.size, `the build of ${sha} in ${entry.tag}`);
      const bundle = await verifyBundle(github, release, {
        scope,
        tempDir: options.scratch,
        log: options.context.log,
      });
      options.context.log.info(
        `Found the build of ${sha} in release ${entry.tag}: ${build.digest}`,
      );
      return { build, bundlePath: bundle.file, source: `release ${entry.tag}` };
    }
    return undefined;
  };
}

export function locateBuild(options: LocateOptions): Promise<FoundBuild> {
  const { context } = options;
  const repositoryId = Number(context.env.GITHUB_REPOSITORY_ID);
  const restoreFromCache = cacheRestorer(options);
  return findBuild({
    app: options.app,
    sha: options.sha,
    repository: { owner: context.owner, repo: context.repo },
    repositoryId: Number.isSafeInteger(repositoryId) && repositoryId > 0 ? repositoryId : undefined,
    token: options.token,
    github: options.github,
    artifacts: new DefaultArtifactClient(),
    ...(restoreFromCache ? { restoreFromCache } : {}),
    fromRelease: releaseSearcher(options),
    directory: options.scratch,
    log: context.log,
  });
}
