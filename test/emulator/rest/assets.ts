import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { AssetState, ReleaseState } from '../state.js';
import { HttpError } from '../world.js';
import { assetJson, paginate } from './render.js';
import { findRelease, validation } from './releases.js';
import { writer, type RestContext, type RestHandler } from './server.js';

/**
 * Release assets: uploaded through the uploads origin, one name once per release, locked with an
 * immutable release. An upload that fails part-way leaves a `starter` asset holding the name.
 */

const IMMUTABLE =
  'Cannot modify an immutable release. Only the release title and notes can change.';

function findAsset(context: RestContext): { release: ReleaseState; asset: AssetState } {
  for (const release of context.repository.releases) {
    if (release.draft && !context.actor) continue;
    const asset = release.assets.find((a) => a.id === context.params.asset_id);
    if (asset) return { release, asset };
  }
  throw new HttpError(404, 'Not Found');
}

/**
 * GitHub takes release assets of at most 2 GiB each, and says so as a validation error, judged
 * by the length the upload declares.
 */
export const MAX_ASSET_BYTES = 2 * 1024 ** 3;

/** Answered at once, without reading the body, and the connection closed. */
function tooLarge(): HttpError {
  const refused = validation(
    'ReleaseAsset',
    'size',
    'custom',
    `size must be less than or equal to ${MAX_ASSET_BYTES}`,
  );
  return new HttpError(refused.status, refused.message, refused.errors, { connection: 'close' });
}

/** Asset names being uploaded, per release: a second upload of the same name is refused. */
const uploading = new WeakMap<ReleaseState, Set<string>>();

function newAsset(context: RestContext, name: string, contentType: string): AssetState {
  const now = context.world.state.now();
  return {
    id: context.world.state.id(),
    name,
    label: typeof context.query.label === 'string' ? context.query.label : null,
    contentType,
    size: 0,
    digest: `sha256:${createHash('sha256').digest('hex')}`,
    blob: '',
    uploader: writer(context),
    createdAt: now,
    updatedAt: now,
    downloadCount: 0,
    state: 'starter',
  };
}

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
  if (Number(request.headers['content-length'] ?? 0) > MAX_ASSET_BYTES) throw tooLarge();
  const asset = newAsset(context, name, contentType);
  if (context.fault?.kind === 'starter') {
    release.assets.push(asset);
    throw new HttpError(502, 'Server Error');
  }
  asset.blob = `${repository.id}/${release.id}/${asset.id}`;
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
    await world.blobs.upload('release-assets', asset.blob, request.pipe(counter), contentType);
  } finally {
    inFlight.delete(name);
  }
  const expected = request.headers['content-length'];
  if (expected !== undefined && Number(expected) !== size) {
    await world.blobs.delete('release-assets', asset.blob);
    throw new HttpError(
      400,
      `Content-Length ${expected} does not match the ${size} bytes received`,
    );
  }
  if (release.immutable) {
    await world.blobs.delete('release-assets', asset.blob);
    throw new HttpError(422, 'Cannot upload assets to an immutable release.');
  }
  Object.assign(asset, { size, digest: `sha256:${hash.digest('hex')}`, state: 'uploaded' });
  release.assets.push(asset);
  return { status: 201, body: assetJson(world, repository, release, asset) };
};

const getAsset: RestHandler = async (context) => {
  const { release, asset } = findAsset(context);
  const accept = context.request.headers.accept ?? '';
  if (accept.includes('application/octet-stream')) {
    if (asset.state !== 'uploaded') throw new HttpError(404, 'Not Found');
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
  if (asset.blob) await context.world.blobs.delete('release-assets', asset.blob);
  return { status: 204 };
};

export const assetRoutes: Record<string, RestHandler> = {
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
