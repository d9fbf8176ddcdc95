import { createHash, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import type { AssetState, ReleaseState, RepositoryState } from '../state.js';
import { HttpError } from '../world.js';
import { resolveCommitish, validRefName } from './git.js';
import { assetJson, paginate, releaseJson } from './render.js';
import { writer, type RestContext, type RestHandler } from './server.js';

/**
 * Releases and their assets, with the GitHub behaviour the release ledger depends on: drafts
 * have no tag until published and are hidden from anonymous readers; a tag holds one published
 * release; an immutable release's assets and tag are locked at publish.
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

function findRelease(context: RestContext, id: unknown): ReleaseState {
  const release = context.repository.releases.find((r) => r.id === id);
  if (!release || (release.draft && !context.actor)) throw new HttpError(404, 'Not Found');
  return release;
}

function findAsset(context: RestContext): { release: ReleaseState; asset: AssetState } {
  for (const release of context.repository.releases) {
    if (release.draft && !context.actor) continue;
    const asset = release.assets.find((a) => a.id === context.params.asset_id);
    if (asset) return { release, asset };
  }
  throw new HttpError(404, 'Not Found');
}

function validation(resource: string, field: string, code: string, message?: string): HttpError {
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

/** The checks GitHub makes before a release goes public on a tag, and the tag it then creates. */
function publish(context: RestContext, release: ReleaseState): void {
  const { repository, world } = context;
  checkTagFree(repository, release.tagName, release);
  const tagRef = `refs/tags/${release.tagName}`;
  if (!repository.refs.has(tagRef)) {
    const sha = resolveCommitish(repository, release.targetCommitish);
    if (!sha) throw validation('Release', 'target_commitish', 'invalid');
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

const createRelease: RestHandler = (context) => {
  const { repository, world } = context;
  const body = context.body as ReleaseBody;
  const tag = body.tag_name ?? '';
  if (!validRefName(`refs/tags/${tag}`)) throw validation('Release', 'tag_name', 'invalid');
  if (body.discussion_category_name !== undefined) throw new HttpError(404, 'Not Found');
  const target = body.target_commitish ?? repository.defaultBranch;
  if (!repository.refs.has(`refs/tags/${tag}`) && !resolveCommitish(repository, target)) {
    throw validation('Release', 'target_commitish', 'invalid');
  }
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
  if (release.immutable) {
    const changes =
      (body.tag_name !== undefined && body.tag_name !== release.tagName) ||
      (body.target_commitish !== undefined && body.target_commitish !== release.targetCommitish) ||
      (body.draft !== undefined && body.draft !== release.draft) ||
      (body.prerelease !== undefined && body.prerelease !== release.prerelease);
    if (changes) throw new HttpError(422, IMMUTABLE);
  }
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

const uploadAsset: RestHandler = async (context) => {
  const { repository, world, request } = context;
  const release = findRelease(context, context.params.release_id);
  if (release.immutable) throw new HttpError(422, 'Cannot upload assets to an immutable release.');
  const name = String(context.query.name);
  const inFlight = uploading.get(release) ?? new Set<string>();
  uploading.set(release, inFlight);
  if (release.assets.some((asset) => asset.name === name) || inFlight.has(name)) {
    throw validation('ReleaseAsset', 'name', 'already_exists');
  }
  const contentType = request.headers['content-type'];
  if (!contentType) throw new HttpError(422, 'Content-Type header is required for asset uploads');
  const id = world.state.id();
  const blob = `${repository.id}/${release.id}/${id}`;
  const hash = createHash('sha256');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  inFlight.add(name);
  try {
    await world.blobs.upload('release-assets', blob, request.pipe(counter), contentType);
  } finally {
    inFlight.delete(name);
  }
  const expected = request.headers['content-length'];
  if (expected !== undefined && Number(expected) !== size) {
    await world.blobs.delete('release-assets', blob);
    throw new HttpError(
      400,
      `Content-Length ${expected} does not match the ${size} bytes received`,
    );
  }
  if (release.immutable) {
    await world.blobs.delete('release-assets', blob);
    throw new HttpError(422, 'Cannot upload assets to an immutable release.');
  }
  const now = world.state.now();
  const asset: AssetState = {
    id,
    name,
    label: typeof context.query.label === 'string' ? context.query.label : null,
    contentType,
    size,
    digest: `sha256:${hash.digest('hex')}`,
    blob,
    uploader: writer(context),
    createdAt: now,
    updatedAt: now,
    downloadCount: 0,
  };
  release.assets.push(asset);
  return { status: 201, body: assetJson(world, repository, release, asset) };
};

/** Asset names being uploaded, per release: a second upload of the same name is refused. */
const uploading = new WeakMap<ReleaseState, Set<string>>();

const getAsset: RestHandler = async (context) => {
  const { release, asset } = findAsset(context);
  const accept = context.request.headers.accept ?? '';
  if (accept.includes('application/octet-stream')) {
    asset.downloadCount++;
    const location = await context.world.blobs.signedUrl('release-assets', asset.blob, {
      permissions: 'r',
      expiresInSeconds: 300,
      // GitHub serves every asset download as octet-stream, whatever the asset's content type.
      contentType: 'application/octet-stream',
      contentDisposition: `attachment; filename=${asset.name}`,
    });
    return { status: 302, headers: { location } };
  }
  return { status: 200, body: assetJson(context.world, context.repository, release, asset) };
};

const updateAsset: RestHandler = (context) => {
  const { release, asset } = findAsset(context);
  if (release.immutable) throw new HttpError(422, IMMUTABLE);
  const body = context.body as { name?: string; label?: string };
  if (body.name !== undefined) {
    if (release.assets.some((a) => a !== asset && a.name === body.name)) {
      throw validation('ReleaseAsset', 'name', 'already_exists');
    }
    asset.name = body.name;
  }
  if (body.label !== undefined) asset.label = body.label;
  asset.updatedAt = context.world.state.now();
  return { status: 200, body: assetJson(context.world, context.repository, release, asset) };
};

const deleteAsset: RestHandler = async (context) => {
  const { release, asset } = findAsset(context);
  if (release.immutable)
    throw new HttpError(422, 'Cannot delete assets from an immutable release.');
  release.assets = release.assets.filter((a) => a !== asset);
  await context.world.blobs.delete('release-assets', asset.blob);
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
    const page = paginate(context, visibleReleases(context));
    return {
      status: 200,
      body: page.items.map((release) => releaseJson(context.world, context.repository, release)),
      headers: page.headers,
    };
  },
  'repos/update-release': updateRelease,
  'repos/delete-release': deleteRelease,
  'repos/list-release-assets': (context) => {
    const release = findRelease(context, context.params.release_id);
    const page = paginate(context, release.assets);
    return {
      status: 200,
      body: page.items.map((asset) => assetJson(context.world, context.repository, release, asset)),
      headers: page.headers,
    };
  },
  'repos/upload-release-asset': uploadAsset,
  'repos/get-release-asset': getAsset,
  'repos/update-release-asset': updateAsset,
  'repos/delete-release-asset': deleteAsset,
};
