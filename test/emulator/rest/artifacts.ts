import type { ArtifactState } from '../state.js';
import { HttpError, type World } from '../world.js';
import { artifactJson, paginate } from './render.js';
import type { RestContext, RestHandler } from './server.js';

/** The Actions artifacts REST API: what another run sees of the artifacts the results service holds. */

/** The file a client sees on download: the artifact name, with `.zip` for an archive. */
export function artifactFileName(artifact: Pick<ArtifactState, 'name' | 'mimeType'>): string {
  return artifact.mimeType === 'application/zip' && !artifact.name.endsWith('.zip')
    ? `${artifact.name}.zip`
    : artifact.name;
}

/** A short-lived read URL for the artifact's blob, named for download. */
export function artifactDownloadUrl(world: World, artifact: ArtifactState): Promise<string> {
  const file = artifactFileName(artifact);
  return world.blobs.signedUrl('artifacts', artifact.blob, {
    permissions: 'r',
    expiresInSeconds: 600,
    contentDisposition: `attachment; filename="${file.replace(/"/g, '')}"; filename*=UTF-8''${encodeURIComponent(file)}`,
  });
}

function listed(context: RestContext, runId?: number): ArtifactState[] {
  const name = context.query.name;
  const ascending = context.query.direction === 'asc';
  return context.world.state.artifacts
    .filter(
      (artifact) =>
        artifact.finalized &&
        artifact.repository === context.repository.fullName &&
        (runId === undefined || artifact.runId === runId) &&
        (name === undefined || artifact.name === name),
    )
    .sort((a, b) => (ascending ? a.id - b.id : b.id - a.id));
}

function answerList(context: RestContext, artifacts: ArtifactState[]) {
  const page = paginate(context, artifacts);
  return {
    status: 200,
    body: {
      total_count: artifacts.length,
      artifacts: page.items.map((artifact) => render(context, artifact)),
    },
    headers: page.headers,
  };
}

function render(context: RestContext, artifact: ArtifactState) {
  const run = context.world.state.runs.get(artifact.runBackendId);
  return artifactJson(context.world, context.repository, artifact, run);
}

function findArtifact(context: RestContext): ArtifactState {
  const artifact = context.world.state.artifacts.find(
    (a) =>
      a.id === context.params.artifact_id &&
      a.finalized &&
      a.repository === context.repository.fullName,
  );
  if (!artifact) throw new HttpError(404, 'Not Found');
  return artifact;
}

export const artifactRoutes: Record<string, RestHandler> = {
  'actions/list-artifacts-for-repo': (context) => answerList(context, listed(context)),
  'actions/list-workflow-run-artifacts': (context) =>
    answerList(context, listed(context, Number(context.params.run_id))),
  'actions/get-artifact': (context) => ({
    status: 200,
    body: render(context, findArtifact(context)),
  }),
  'actions/download-artifact': async (context) => {
    if (!context.actor) throw new HttpError(401, 'Requires authentication');
    const artifact = findArtifact(context);
    if (context.params.archive_format !== 'zip') throw new HttpError(404, 'Not Found');
    if (Date.parse(artifact.expiresAt) <= Date.now())
      throw new HttpError(410, 'Artifact has expired');
    return {
      status: 302,
      headers: { location: await artifactDownloadUrl(context.world, artifact) },
    };
  },
  'actions/delete-artifact': async (context) => {
    const artifact = findArtifact(context);
    const { artifacts } = context.world.state;
    artifacts.splice(artifacts.indexOf(artifact), 1);
    await context.world.blobs.delete('artifacts', artifact.blob);
    return { status: 204 };
  },
};
