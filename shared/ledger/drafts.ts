import { statusOf, validationCodes, type GitHub } from '../github.js';
import type { Log } from '../log.js';
import { sendAsset, type AssetUpload, type UploadedAsset } from './assets.js';
import { readTagRef } from './holders.js';
import { repositoryOf, type LedgerScope } from './tags.js';

/**
 * A release is made draft-first on its reserved tag: the draft, its assets, then publish. Each
 * step may take effect and lose its answer; each is recognised by what GitHub then holds (a
 * draft carrying this job's nonce, an asset of the same size and digest, a release no longer a
 * draft), so a lost answer never leaves a second draft or a failed retry behind.
 */

export interface Draft {
  id: number;
  uploadUrl: string;
}

export interface DraftSpec {
  tag: string;
  name: string;
  body: string;
  prerelease: boolean;
  /** Known only to this job; written into the body, so a draft whose answer was lost is found. */
  nonce: string;
}

export interface StepOptions {
  sleep?: (ms: number) => Promise<void>;
}

const TRIES = 3;
const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Network failures (Octokit says 500) and server errors: the request may have taken effect. */
function unanswered(error: unknown): boolean {
  const status = statusOf(error);
  return status === undefined || status >= 500;
}

export function nonceMarker(nonce: string): string {
  return `<!-- build-release-run ${nonce} -->`;
}

/** This job's draft among the newest releases (one request: a draft was made moments ago). */
export async function findDraft(
  github: GitHub,
  scope: LedgerScope,
  spec: Pick<DraftSpec, 'tag' | 'nonce'>,
): Promise<Draft | undefined> {
  const { data } = await github.rest.repos.listReleases({ ...repositoryOf(scope), per_page: 30 });
  const found = data.find(
    (release) =>
      release.draft &&
      release.tag_name === spec.tag &&
      (release.body ?? '').includes(nonceMarker(spec.nonce)),
  );
  return found ? { id: found.id, uploadUrl: found.upload_url } : undefined;
}

export async function createDraft(
  github: GitHub,
  scope: LedgerScope,
  spec: DraftSpec,
  options: StepOptions = {},
): Promise<Draft> {
  const sleep = options.sleep ?? realSleep;
  for (let tries = 1; ; tries++) {
    try {
      const { data } = await github.rest.repos.createRelease({
        ...repositoryOf(scope),
        tag_name: spec.tag,
        name: spec.name,
        body: `${spec.body}\n\n${nonceMarker(spec.nonce)}`,
        draft: true,
        prerelease: spec.prerelease,
        make_latest: 'false',
        request: { retries: 0 },
      });
      return { id: data.id, uploadUrl: data.upload_url };
    } catch (error) {
      if (!unanswered(error)) throw error;
      const found = await findDraft(github, scope, spec);
      if (found) return found;
      if (tries >= TRIES) throw error;
      await sleep(1000 * tries ** 2);
    }
  }
}

async function heldAsset(github: GitHub, scope: LedgerScope, draft: Draft, name: string) {
  const { data } = await github.rest.repos.getRelease({
    ...repositoryOf(scope),
    release_id: draft.id,
  });
  return data.assets.find((asset) => asset.name === name);
}

function checkHeld(asset: AssetUpload, uploaded: UploadedAsset, size: number): UploadedAsset {
  if (uploaded.size !== size || (uploaded.digest && uploaded.digest !== asset.digest)) {
    throw new Error(
      `GitHub holds release asset ${asset.name} as ${uploaded.size} bytes ${uploaded.digest ?? ''}, but ${size} bytes ${asset.digest} were sent`,
    );
  }
  return uploaded;
}

/**
 * Uploads an asset to the draft. After a failure that may have taken effect, GitHub's copy is
 * read: the same size and digest is this upload; a `starter` left by a failed upload (or any
 * other copy) is deleted and the upload tried again.
 */
export async function putAsset(
  github: GitHub,
  scope: LedgerScope,
  upload: { draft: Draft; asset: AssetUpload & { size: number } } & StepOptions,
): Promise<UploadedAsset> {
  const { draft, asset } = upload;
  const sleep = upload.sleep ?? realSleep;
  for (let tries = 1; ; tries++) {
    try {
      return checkHeld(asset, await sendAsset(github, draft.uploadUrl, asset), asset.size);
    } catch (error) {
      const taken = validationCodes(error).includes('already_exists');
      if (!unanswered(error) && !taken) throw error;
      const held = await heldAsset(github, scope, draft, asset.name);
      if (held?.state === 'uploaded' && held.size === asset.size && held.digest === asset.digest) {
        return { id: held.id, name: held.name, size: held.size, digest: held.digest };
      }
      if (held) {
        await github.rest.repos.deleteReleaseAsset({ ...repositoryOf(scope), asset_id: held.id });
      }
      if (tries >= TRIES) throw error;
      await sleep(1000 * tries);
    }
  }
}

/** Publishes the draft; a publish whose answer was lost is seen in the release itself. */
export async function publishDraft(
  github: GitHub,
  scope: LedgerScope,
  draft: Draft,
  makeLatest: boolean,
): Promise<string> {
  try {
    const { data } = await github.rest.repos.updateRelease({
      ...repositoryOf(scope),
      release_id: draft.id,
      draft: false,
      make_latest: makeLatest ? 'true' : 'false',
    });
    return data.html_url;
  } catch (error) {
    const { data } = await github.rest.repos
      .getRelease({ ...repositoryOf(scope), release_id: draft.id })
      .catch(() => {
        throw error;
      });
    if (!data.draft) return data.html_url;
    throw error;
  }
}

/** What a release job holds until it publishes: its tag, and its draft once made. */
export interface Holding {
  tag: string;
  /** The reservation's tag object; the tag is this job's only while it points there. */
  tagObject?: string;
  draft?: Draft;
  /** Set once a draft was asked for, even if its answer was lost. */
  draftSpec?: DraftSpec;
}

/** Deletes the draft; a release that turned out published (its answer lost) is left alone. */
async function dropDraft(github: GitHub, scope: LedgerScope, holding: Holding): Promise<boolean> {
  const draft =
    holding.draft ?? (holding.draftSpec && (await findDraft(github, scope, holding.draftSpec)));
  if (!draft) return false;
  try {
    const { data } = await github.rest.repos.getRelease({
      ...repositoryOf(scope),
      release_id: draft.id,
    });
    if (!data.draft) return true;
    await github.rest.repos.deleteRelease({ ...repositoryOf(scope), release_id: draft.id });
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
  }
  return false;
}

async function dropTag(github: GitHub, scope: LedgerScope, holding: Holding): Promise<void> {
  if (!holding.tagObject) return;
  if ((await readTagRef(github, scope, holding.tag)) !== holding.tagObject) return;
  try {
    await github.rest.git.deleteRef({ ...repositoryOf(scope), ref: `tags/${holding.tag}` });
  } catch (error) {
    if (statusOf(error) !== 404 && statusOf(error) !== 422) throw error;
  }
}

/**
 * Undoes a release that was not published: its draft, then its tag, so no half release is left
 * and the number is free again. A handful of requests, none of them a listing of the ledger, so
 * it fits the seconds a cancelled job has. Returns what could not be removed.
 */
export async function abandon(
  github: GitHub,
  scope: LedgerScope,
  holding: Holding,
  log: Log,
): Promise<string[]> {
  const leftovers: string[] = [];
  try {
    if (await dropDraft(github, scope, holding)) {
      log.warning(`${holding.tag} was published after all: it and its tag are left as they are`);
      return [];
    }
  } catch (error) {
    log.warning(
      `Could not delete the draft release of ${holding.tag}: ${(error as Error).message}`,
    );
    leftovers.push(`the draft release of ${holding.tag}`);
  }
  try {
    await dropTag(github, scope, holding);
  } catch (error) {
    log.warning(`Could not delete the tag ${holding.tag}: ${(error as Error).message}`);
    leftovers.push(`the tag ${holding.tag}`);
  }
  return leftovers;
}
