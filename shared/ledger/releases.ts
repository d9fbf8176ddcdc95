import { ConfigurationError } from '../errors.js';
import { statusOf, type GitHub } from '../github.js';
import {
  readIndex,
  repositoryOf,
  tagOf,
  tagPrefix,
  type LedgerIndex,
  type LedgerScope,
} from './tags.js';

/** A published release of the ledger, read by its tag. */
export interface LedgerEntry {
  id: string;
  tag: string;
  /** GitHub's numeric release ID. */
  releaseId: number;
  draft: boolean;
  prerelease: boolean;
  immutable: boolean;
  url: string;
  body: string;
  createdAt: string;
  publishedAt: string | null;
  assets: { id: number; name: string; size: number; state: string }[];
}

type ApiRelease = Awaited<ReturnType<GitHub['rest']['repos']['getRelease']>>['data'];

export function toEntry(scope: LedgerScope, release: ApiRelease): LedgerEntry {
  return {
    id: release.tag_name.slice(tagPrefix(scope).length),
    tag: release.tag_name,
    releaseId: release.id,
    draft: release.draft,
    prerelease: release.prerelease,
    immutable: release.immutable ?? false,
    url: release.html_url,
    body: release.body ?? '',
    createdAt: release.created_at,
    publishedAt: release.published_at,
    assets: release.assets.map((asset) => ({
      id: asset.id,
      name: asset.name,
      size: asset.size,
      state: asset.state,
    })),
  };
}

/** The published release on a tag, or undefined: GitHub shows no draft by tag. */
export async function readRelease(
  github: GitHub,
  scope: LedgerScope,
  tag: string,
): Promise<LedgerEntry | undefined> {
  try {
    const { data } = await github.rest.repos.getReleaseByTag({ ...repositoryOf(scope), tag });
    return data.draft ? undefined : toEntry(scope, data);
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

/** One published release by ID, or undefined. */
export function findRelease(
  github: GitHub,
  scope: LedgerScope,
  id: string,
): Promise<LedgerEntry | undefined> {
  return readRelease(github, scope, tagOf(scope, id));
}

/**
 * How many of the newest tags `latest` looks past: tags whose release is still being made, or
 * was given up. Each costs one request.
 */
export const LATEST_WALK = 10;

/**
 * The newest published release of the numbered ledger: the tags from one request, then the
 * releases on the newest of them, newest first, until one is published.
 */
export async function latestRelease(
  github: GitHub,
  scope: LedgerScope,
  index?: LedgerIndex,
): Promise<LedgerEntry | undefined> {
  const { tags } = index ?? (await readIndex(github, scope));
  const newest = tags.slice(-LATEST_WALK).reverse();
  for (const candidate of newest) {
    const entry = await readRelease(github, scope, candidate.tag);
    if (entry) return entry;
  }
  if (tags.length > LATEST_WALK) {
    throw new ConfigurationError({
      subject: `ledger ${scope.app}/${scope.environment}`,
      problem: `none of its newest ${LATEST_WALK} tags (${newest.at(-1)?.id}…${newest[0]?.id}) has a published release`,
      hint: 'publish a release, or name the release to deploy with release-id',
    });
  }
  return undefined;
}
