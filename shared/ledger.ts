import { createWriteStream, openAsBlob } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { HttpClient } from '@actions/http-client';
import { request as undiciRequest, type Dispatcher } from 'undici';
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

/** A release asset's bytes as they arrive, for a reader that checks them on the way. */
export async function openAsset(
  github: GitHub,
  repository: Repository,
  assetId: number,
): Promise<Readable> {
  const response = await github.request('GET /repos/{owner}/{repo}/releases/assets/{asset_id}', {
    ...repository,
    asset_id: assetId,
    headers: { accept: 'application/octet-stream' },
    request: { parseSuccessResponseBody: false },
  });
  return Readable.fromWeb(response.data as unknown as WebReadableStream<Uint8Array>);
}

/** Streams a release asset to a file, without holding it in memory. */
export async function downloadAssetToFile(
  github: GitHub,
  repository: Repository,
  assetId: number,
  file: string,
): Promise<void> {
  await pipeline(await openAsset(github, repository, assetId), createWriteStream(file));
}

/** What an asset upload sends: bytes in memory, or a file streamed from disk. */
export type AssetBody = { bytes: Uint8Array } | { file: string };

export interface UploadedAsset {
  id: number;
  name: string;
  size: number;
}

/**
 * Uploads one asset to a release through its `upload_url`, then checks that GitHub holds what was
 * sent: the same size and, where GitHub reports one, the same sha256 digest.
 */
export async function uploadAsset(
  github: GitHub,
  uploadUrl: string,
  asset: { name: string; contentType: string; body: AssetBody; digest: string },
): Promise<UploadedAsset> {
  // A Blob, file-backed when the asset is a file: read lazily, and again from the start when
  // Octokit retries the request.
  const blob =
    'file' in asset.body
      ? await openAsBlob(asset.body.file)
      : new Blob([new Uint8Array(asset.body.bytes)]);
  const response: { data: unknown } = await github.request({
    method: 'POST',
    // The URL template's {?name,label} takes `name` into the query.
    url: uploadUrl,
    name: asset.name,
    data: blob,
    headers: { 'content-type': asset.contentType, 'content-length': blob.size },
    request: { fetch: streamingFetch },
  });
  const uploaded = response.data as {
    id: number;
    name: string;
    size: number;
    digest?: string | null;
  };
  if (uploaded.size !== blob.size || (uploaded.digest && uploaded.digest !== asset.digest)) {
    throw new Error(
      `GitHub holds release asset ${asset.name} as ${uploaded.size} bytes ${uploaded.digest ?? ''}, but ${blob.size} bytes ${asset.digest} were sent`,
    );
  }
  return { id: uploaded.id, name: uploaded.name, size: uploaded.size };
}

/**
 * The fetch Octokit uses for uploads. fetch() itself, Node's or undici's, keeps every chunk of a
 * streamed request body in memory until the request ends (nodejs/undici#4058): a 1 GB bundle
 * would take 1 GB. undici's request() streams with backpressure. Octokit still does the rest
 * (auth, retries, rate limits, errors), and the proxy is found as @actions/github finds it for
 * Octokit's own requests.
 */
async function streamingFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
  const body = init.body;
  const response = await undiciRequest(url, {
    method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
    headers: init.headers as Record<string, string>,
    body:
      body instanceof Blob
        ? Readable.fromWeb(body.stream() as WebReadableStream<Uint8Array>)
        : (body as string | null | undefined),
    signal: init.signal ?? undefined,
    dispatcher: new HttpClient().getAgentDispatcher(String(url)),
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined) headers.append(name, one);
    }
  }
  const text = await response.body.text();
  const empty = [204, 205, 304].includes(response.statusCode);
  return new Response(empty ? null : text, { status: response.statusCode, headers });
}
