import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ConfigurationError } from './errors.js';
import { statusOf, type GitHub, type Repository } from './github.js';
import type { Log } from './log.js';
import { releaseNumber, releaseTag } from './names.js';

/**
 * The ledger of one app and environment: its GitHub Releases, tagged `<app>/<environment>/<id>`.
 * A release ID is reserved by creating its tag (creating a ref is atomic on GitHub), so two
 * release jobs never take the same ID, and each new release chains to the one published before.
 */
export interface LedgerEntry {
  id: string;
  tag: string;
  /** GitHub's numeric release ID. */
  releaseId: number;
  draft: boolean;
  prerelease: boolean;
  url: string;
  createdAt: string;
  publishedAt: string | null;
  assets: { id: number; name: string; size: number }[];
}

export interface LedgerScope extends Repository {
  app: string;
  environment: string;
}

function tagPrefix(scope: LedgerScope): string {
  return `${scope.app}/${scope.environment}/`;
}

type ApiRelease = Awaited<ReturnType<GitHub['rest']['repos']['getRelease']>>['data'];

function toEntry(scope: LedgerScope, release: ApiRelease): LedgerEntry {
  return {
    id: release.tag_name.slice(tagPrefix(scope).length),
    tag: release.tag_name,
    releaseId: release.id,
    draft: release.draft,
    prerelease: release.prerelease,
    url: release.html_url,
    createdAt: release.created_at,
    publishedAt: release.published_at,
    assets: release.assets.map((asset) => ({ id: asset.id, name: asset.name, size: asset.size })),
  };
}

/** Orders entries as the ledger grew: by `v<N>` where numbered, else by publication time. */
function ledgerOrder(a: LedgerEntry, b: LedgerEntry): number {
  const na = releaseNumber(a.id);
  const nb = releaseNumber(b.id);
  if (na !== undefined && nb !== undefined) return na - nb;
  return (a.publishedAt ?? a.createdAt).localeCompare(b.publishedAt ?? b.createdAt);
}

/** Every release of the scope (drafts included, flagged), oldest first. */
export async function listLedger(github: GitHub, scope: LedgerScope): Promise<LedgerEntry[]> {
  const releases = await github.paginate(github.rest.repos.listReleases, {
    owner: scope.owner,
    repo: scope.repo,
    per_page: 100,
  });
  return releases
    .filter((release) => release.tag_name.startsWith(tagPrefix(scope)))
    .map((release) => toEntry(scope, release))
    .sort(ledgerOrder);
}

/** Published releases only, oldest first. */
export async function publishedReleases(
  github: GitHub,
  scope: LedgerScope,
): Promise<LedgerEntry[]> {
  return (await listLedger(github, scope)).filter((entry) => !entry.draft);
}

/** One published release by ID, or undefined. */
export async function findRelease(
  github: GitHub,
  scope: LedgerScope,
  id: string,
): Promise<LedgerEntry | undefined> {
  try {
    const { data } = await github.rest.repos.getReleaseByTag({
      owner: scope.owner,
      repo: scope.repo,
      tag: releaseTag(scope.app, scope.environment, id),
    });
    return data.draft ? undefined : toEntry(scope, data);
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

async function listTags(github: GitHub, scope: LedgerScope): Promise<string[]> {
  const refs = await github.paginate(github.rest.git.listMatchingRefs, {
    owner: scope.owner,
    repo: scope.repo,
    ref: `tags/${tagPrefix(scope)}`,
    per_page: 100,
  });
  return refs.map((ref) => ref.ref.replace(/^refs\/tags\//, ''));
}

export interface Reservation {
  id: string;
  tag: string;
  /** The release published last before this one: the previous link of the hash chain. */
  previous: LedgerEntry | undefined;
}

export interface ReserveOptions {
  sha: string;
  /** An explicit ID; refused if it exists. Default: the next `v<N>`. */
  id?: string;
  log: Log;
  /** How long to wait for another release job of the scope to publish or give up. */
  waitSeconds?: number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Reserves the next release ID by creating its tag at `sha`. While another job's release of the
 * same scope is in flight (its tag exists, its release is not published), waits for it, so the
 * hash chain stays a line: each release names the one published just before it.
 */
export async function reserveReleaseId(
  github: GitHub,
  scope: LedgerScope,
  options: ReserveOptions,
): Promise<Reservation> {
  const sleep = options.sleep ?? defaultSleep;
  const deadline = Date.now() + (options.waitSeconds ?? 300) * 1000;
  let announced = '';
  for (;;) {
    const [tags, entries] = await Promise.all([listTags(github, scope), listLedger(github, scope)]);
    const published = entries.filter((entry) => !entry.draft);
    const publishedTags = new Set(published.map((entry) => entry.tag));
    if (
      options.id !== undefined &&
      tags.includes(releaseTag(scope.app, scope.environment, options.id))
    ) {
      throw new ConfigurationError(
        `Input 'release-id': release ${options.id} of ${scope.app}/${scope.environment} exists already; releases are never overwritten`,
      );
    }
    const inFlight = tags.filter((tag) => !publishedTags.has(tag));
    if (inFlight.length > 0) {
      if (Date.now() > deadline) {
        throw new ConfigurationError(
          `Release tag ${inFlight.join(', ')} has no published release: another release job is still running, or one died. If none is running, delete the tag (gh api -X DELETE repos/${scope.owner}/${scope.repo}/git/refs/tags/${inFlight[0]}) and retry`,
        );
      }
      const waitingFor = inFlight.join(', ');
      if (waitingFor !== announced) {
        options.log.info(
          `Waiting for the release job that holds ${waitingFor} to publish or give up`,
        );
        announced = waitingFor;
      }
      await sleep(2000);
      continue;
    }
    const highest = Math.max(
      0,
      ...tags.map((tag) => releaseNumber(tag.slice(tagPrefix(scope).length)) ?? 0),
    );
    const id = options.id ?? `v${highest + 1}`;
    const tag = releaseTag(scope.app, scope.environment, id);
    try {
      await github.rest.git.createRef({
        owner: scope.owner,
        repo: scope.repo,
        ref: `refs/tags/${tag}`,
        sha: options.sha,
      });
      return { id, tag, previous: published.at(-1) };
    } catch (error) {
      if (statusOf(error) !== 422) throw error;
      if (options.id !== undefined) {
        throw new ConfigurationError(
          `Input 'release-id': release ${options.id} of ${scope.app}/${scope.environment} exists already; releases are never overwritten`,
        );
      }
      options.log.info(`${tag} was taken by another release job; trying the next ID`);
    }
  }
}

/** Removes a reserved tag whose release was not published. */
export async function releaseReservation(
  github: GitHub,
  scope: LedgerScope,
  tag: string,
): Promise<void> {
  try {
    await github.rest.git.deleteRef({ owner: scope.owner, repo: scope.repo, ref: `tags/${tag}` });
  } catch (error) {
    if (statusOf(error) !== 404 && statusOf(error) !== 422) throw error;
  }
}

/** Downloads a (small) release asset into memory. */
export async function downloadAsset(
  github: GitHub,
  repository: Repository,
  assetId: number,
): Promise<Buffer> {
  const response = await github.request('GET /repos/{owner}/{repo}/releases/assets/{asset_id}', {
    ...repository,
    asset_id: assetId,
    headers: { accept: 'application/octet-stream' },
  });
  return Buffer.from(response.data as unknown as ArrayBuffer);
}

/** Streams a release asset to a file, without holding it in memory. */
export async function downloadAssetToFile(
  github: GitHub,
  repository: Repository,
  assetId: number,
  file: string,
): Promise<void> {
  const response = await github.request('GET /repos/{owner}/{repo}/releases/assets/{asset_id}', {
    ...repository,
    asset_id: assetId,
    headers: { accept: 'application/octet-stream' },
    request: { parseSuccessResponseBody: false },
  });
  const body = response.data as unknown as WebReadableStream<Uint8Array>;
  await pipeline(Readable.fromWeb(body), createWriteStream(file));
}
