import { randomBytes } from 'node:crypto';
import type { ReleaseState, RepositoryState } from '../state.js';
import { creationRefused, touchesWorkflows } from '../rules.js';
import { HttpError } from '../world.js';
import { resolveCommitish, validRefName } from './git.js';
import { paginateFirstThousand, releaseJson, tagJson } from './render.js';
import { writer, type RestContext, type RestHandler } from './server.js';

/**
 * Releases, with the GitHub behaviour the release ledger depends on: drafts have no tag until
 * published and are hidden from anonymous readers; a tag holds one published release; an
 * immutable release's assets and tag are locked at publish and its tag name is never reused; the
 * Actions token gets 404 for a release whose target commit changes workflow files; lists stop
 * at 1,000 results.
 */

interface ReleaseBody {
  tag_name?: string;
  target_commitish?: string;
  name?: string;
  body?: string;
  draft?: boolean;
  prerelease?: boolean;
  discussion_category_name?: string;
}

const IMMUTABLE =
  'Cannot modify an immutable release. Only the release title and notes can change.';

export function findRelease(context: RestContext, id: unknown): ReleaseState {
  const release = context.repository.releases.find((r) => r.id === id);
  if (!release || (release.draft && !context.actor)) throw new HttpError(404, 'Not Found');
  return release;
}

export function validation(
  resource: string,
  field: string,
  code: string,
  message?: string,
): HttpError {
  return new HttpError(422, 'Validation Failed', [
    { resource, code, field, ...(message ? { message } : {}) },
  ]);
}

/** A tag holds one published release; an immutable release's tag is never reused. */
function checkTagFree(repository: RepositoryState, tag: string, except?: ReleaseState): void {
  if (repository.releases.some((r) => r !== except && !r.draft && r.tagName === tag)) {
    throw validation('Release', 'tag_name', 'already_exists');
  }
  if (repository.immutableTags.has(tag)) {
    throw validation('Release', 'tag_name', 'custom', 'tag_name was used by an immutable release');
  }
}

/**
 * The target commit as GitHub resolves it (`target_commitish`, else the default branch's head),
 * and the 404 the Actions token gets when that commit changes workflow files.
 */
function checkTarget(context: RestContext, target: string): void {
  const commit = resolveCommitish(context.repository, target);
  if (commit && touchesWorkflows(context.repository, context.actor, commit)) {
    throw new HttpError(404, 'Not Found');
  }
}

/** The checks GitHub makes before a release goes public on a tag, and the tag it then creates. */
function publish(context: RestContext, release: ReleaseState): void {
  const { repository, world } = context;
  checkTagFree(repository, release.tagName, release);
  const tagRef = `refs/tags/${release.tagName}`;
  if (!repository.refs.has(tagRef)) {
    const sha = resolveCommitish(repository, release.targetCommitish);
    if (!sha) throw validation('Release', 'target_commitish', 'invalid');
    const refused = creationRefused(repository, tagRef);
    if (refused) {
      throw validation(
        'Release',
        'pre_receive',
        'custom',
        `pre_receive Repository rule violations found\n${refused}`,
      );
    }
    repository.refs.set(tagRef, sha);
  }
  release.draft = false;
  release.publishedAt = world.state.now();
  if (repository.immutableReleases) {
    release.immutable = true;
    repository.immutableTags.add(release.tagName);
  }
}

function visibleReleases(context: RestContext): ReleaseState[] {
  return context.repository.releases
    .filter((release) => context.actor || !release.draft)
    .sort((a, b) => b.id - a.id);
}

/** GitHub keeps a release's notes to 125,000 characters, and refuses longer ones. */
export const MAX_RELEASE_BODY = 125_000;

function checkBody(body: ReleaseBody): void {
  if (body.body === undefined) return;
  if ([...body.body].length <= MAX_RELEASE_BODY) return;
  throw validation(
    'Release',
    'body',
    'custom',
    `body is too long (maximum is ${MAX_RELEASE_BODY} characters)`,
  );
}

const createRelease: RestHandler = (context) => {
  const { repository, world } = context;
  const body = context.body as ReleaseBody;
  checkBody(body);
  const tag = body.tag_name ?? '';
  if (!validRefName(`refs/tags/${tag}`)) throw validation('Release', 'tag_name', 'invalid');
  if (body.discussion_category_name !== undefined) throw new HttpError(404, 'Not Found');
  const target = body.target_commitish ?? repository.defaultBranch;
  if (!repository.refs.has(`refs/tags/${tag}`) && !resolveCommitish(repository, target)) {
    throw validation('Release', 'target_commitish', 'invalid');
  }
  checkTarget(context, target);
  const now = world.state.now();
  const release: ReleaseState = {
    id: world.state.id(),
    tagName: tag,
    targetCommitish: target,
    name: body.name ?? null,
    body: body.body ?? null,
    draft: true,
    prerelease: body.prerelease ?? false,
    immutable: false,
    author: writer(context),
    createdAt: now,
    publishedAt: null,
    updatedAt: now,
    untagged: randomBytes(10).toString('hex'),
    assets: [],
  };
  if (body.draft !== true) publish(context, release);
  else checkTagFree(repository, tag);
  repository.releases.push(release);
  const json = releaseJson(world, repository, release);
  return { status: 201, body: json, headers: { location: json.url } };
};

const updateRelease: RestHandler = (context) => {
  const release = findRelease(context, context.params.release_id);
  const body = context.body as ReleaseBody;
  checkBody(body);
  if (release.immutable) {
    const changes =
      (body.tag_name !== undefined && body.tag_name !== release.tagName) ||
      (body.target_commitish !== undefined && body.target_commitish !== release.targetCommitish) ||
      (body.draft !== undefined && body.draft !== release.draft) ||
      (body.prerelease !== undefined && body.prerelease !== release.prerelease);
    if (changes) throw new HttpError(422, IMMUTABLE);
  }
  checkTarget(context, body.target_commitish ?? release.targetCommitish);
  if (body.tag_name !== undefined) {
    if (!validRefName(`refs/tags/${body.tag_name}`))
      throw validation('Release', 'tag_name', 'invalid');
    if (!release.draft && body.tag_name !== release.tagName) {
      checkTagFree(context.repository, body.tag_name, release);
    }
    release.tagName = body.tag_name;
  }
  if (body.target_commitish !== undefined) release.targetCommitish = body.target_commitish;
  if (body.name !== undefined) release.name = body.name;
  if (body.body !== undefined) release.body = body.body;
  if (body.prerelease !== undefined) release.prerelease = body.prerelease;
  if (body.draft === false && release.draft) publish(context, release);
  if (body.draft === true && !release.draft) {
    release.draft = true;
    release.publishedAt = null;
  }
  release.updatedAt = context.world.state.now();
  return { status: 200, body: releaseJson(context.world, context.repository, release) };
};

const deleteRelease: RestHandler = async (context) => {
  const release = findRelease(context, context.params.release_id);
  const { repository, world } = context;
  repository.releases = repository.releases.filter((r) => r !== release);
  await Promise.all(
    release.assets.map((asset) => world.blobs.delete('release-assets', asset.blob)),
  );
  return { status: 204 };
};

export const releaseRoutes: Record<string, RestHandler> = {
  'repos/create-release': createRelease,
  'repos/get-release': (context) => ({
    status: 200,
    body: releaseJson(
      context.world,
      context.repository,
      findRelease(context, context.params.release_id),
    ),
  }),
  'repos/get-release-by-tag': (context) => {
    const release = context.repository.releases.find(
      (r) => !r.draft && r.tagName === context.params.tag,
    );
    if (!release) throw new HttpError(404, 'Not Found');
    return { status: 200, body: releaseJson(context.world, context.repository, release) };
  },
  'repos/get-latest-release': (context) => {
    const release = visibleReleases(context).find((r) => !r.draft && !r.prerelease);
    if (!release) throw new HttpError(404, 'Not Found');
    return { status: 200, body: releaseJson(context.world, context.repository, release) };
  },
  'repos/list-releases': (context) => {
    const page = paginateFirstThousand(context, visibleReleases(context));
    return {
      status: 200,
      body: page.items.map((release) => releaseJson(context.world, context.repository, release)),
      headers: page.headers,
    };
  },
  'repos/list-tags': (context) => {
    const tags = [...context.repository.refs]
      .filter(([ref]) => ref.startsWith('refs/tags/'))
      .sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0));
    const page = paginateFirstThousand(context, tags);
    return {
      status: 200,
      body: page.items.map(([ref, sha]) => tagJson(context.world, context.repository, ref, sha)),
      headers: page.headers,
    };
  },
  'repos/update-release': updateRelease,
  'repos/delete-release': deleteRelease,
};
