import { artifactDownloadUrl, artifactFileName } from '../rest/artifacts.js';
import type { ArtifactState } from '../state.js';
import { TwirpError, type TwirpContext, type TwirpService } from './twirp.js';

/** ArtifactService: how @actions/artifact (v4 protocol) creates, finds and deletes artifacts. */

const ids = { workflow_run_backend_id: 'string', workflow_job_run_backend_id: 'string' } as const;

/** Artifacts are kept 90 days unless the upload asks for less, as a repository's default. */
const DEFAULT_RETENTION_MS = 90 * 24 * 3600 * 1000;

function finalizedInRun(context: TwirpContext): ArtifactState[] {
  return context.world.state.artifacts.filter(
    (artifact) => artifact.finalized && artifact.runBackendId === context.run.backendId,
  );
}

function byName(context: TwirpContext): ArtifactState {
  const name = context.message.name;
  const artifact = finalizedInRun(context).find((a) => a.name === name);
  if (!artifact) throw new TwirpError('not_found', `artifact ${String(name)} not found`);
  return artifact;
}

export const artifactService: TwirpService = {
  CreateArtifact: {
    input: {
      ...ids,
      name: 'string',
      expires_at: 'timestamp',
      version: 'int32',
      mime_type: 'string',
    },
    required: ['workflow_run_backend_id', 'workflow_job_run_backend_id', 'name', 'version'],
    output: { ok: 'bool', signed_upload_url: 'string' },
    scope: 'job',
    async handle(context) {
      const { world, run, message } = context;
      const name = String(message.name);
      if (Number(message.version) < 4) {
        throw new TwirpError(
          'invalid_argument',
          `artifact protocol version ${String(message.version)} is not supported`,
        );
      }
      const existing = world.state.artifacts.find(
        (a) => a.runBackendId === run.backendId && a.name === name,
      );
      if (existing?.finalized) {
        throw new TwirpError(
          'already_exists',
          `an artifact with the name ${name} already exists on this workflow run`,
        );
      }
      if (existing) world.state.artifacts.splice(world.state.artifacts.indexOf(existing), 1);
      const now = world.state.now();
      const id = world.state.id();
      const mimeType =
        typeof message.mime_type === 'string' ? message.mime_type : 'application/zip';
      const artifact: ArtifactState = {
        id,
        repository: run.repository,
        runId: run.runId,
        runBackendId: run.backendId,
        jobBackendId: context.jobBackendId,
        name,
        mimeType,
        blob: '',
        size: 0,
        digest: null,
        finalized: false,
        createdAt: now,
        updatedAt: now,
        expiresAt:
          typeof message.expires_at === 'string'
            ? new Date(message.expires_at).toISOString()
            : new Date(Date.now() + DEFAULT_RETENTION_MS).toISOString(),
      };
      artifact.blob = `${run.backendId}/${context.jobBackendId}/artifacts/${id}/${artifactFileName(artifact)}`;
      world.state.artifacts.push(artifact);
      const url = await world.blobs.signedUrl('artifacts', artifact.blob, { permissions: 'cw' });
      return { ok: true, signed_upload_url: url };
    },
  },

  FinalizeArtifact: {
    input: { ...ids, name: 'string', size: 'int64', hash: 'string' },
    required: ['workflow_run_backend_id', 'workflow_job_run_backend_id', 'name'],
    output: { ok: 'bool', artifact_id: 'int64' },
    scope: 'job',
    async handle(context) {
      const { world, run, message } = context;
      const artifact = world.state.artifacts.find(
        (a) =>
          !a.finalized &&
          a.runBackendId === run.backendId &&
          a.jobBackendId === context.jobBackendId &&
          a.name === message.name,
      );
      if (!artifact) {
        throw new TwirpError('not_found', `no artifact ${String(message.name)} is being uploaded`);
      }
      const blob = await world.blobs.info('artifacts', artifact.blob);
      const size = Number(message.size ?? 0);
      if (!blob)
        throw new TwirpError('failed_precondition', 'nothing was uploaded to the signed URL');
      if (blob.size !== size) {
        throw new TwirpError(
          'invalid_argument',
          `size ${size} does not match the ${blob.size} bytes uploaded`,
        );
      }
      artifact.size = size;
      artifact.digest = typeof message.hash === 'string' ? message.hash : null;
      artifact.finalized = true;
      artifact.updatedAt = world.state.now();
      return { ok: true, artifact_id: String(artifact.id) };
    },
  },

  ListArtifacts: {
    input: { ...ids, name_filter: 'string', id_filter: 'int64' },
    required: ['workflow_run_backend_id', 'workflow_job_run_backend_id'],
    output: { artifacts: 'object[]' },
    scope: 'run',
    handle(context) {
      const { message } = context;
      const artifacts = finalizedInRun(context)
        .filter(
          (a) =>
            (message.name_filter === undefined || a.name === message.name_filter) &&
            (message.id_filter === undefined || a.id === Number(message.id_filter)),
        )
        .map((a) => ({
          workflow_run_backend_id: a.runBackendId,
          workflow_job_run_backend_id: a.jobBackendId,
          database_id: String(a.id),
          name: a.name,
          size: String(a.size),
          created_at: a.createdAt,
          ...(a.digest ? { digest: a.digest } : {}),
        }));
      return { artifacts };
    },
  },

  GetSignedArtifactURL: {
    input: { ...ids, name: 'string' },
    required: ['workflow_run_backend_id', 'workflow_job_run_backend_id', 'name'],
    output: { signed_url: 'string' },
    scope: 'run',
    async handle(context) {
      return { signed_url: await artifactDownloadUrl(context.world, byName(context)) };
    },
  },

  DeleteArtifact: {
    input: { ...ids, name: 'string' },
    required: ['workflow_run_backend_id', 'workflow_job_run_backend_id', 'name'],
    output: { ok: 'bool', artifact_id: 'int64' },
    scope: 'run',
    async handle(context) {
      const artifact = byName(context);
      const { artifacts } = context.world.state;
      artifacts.splice(artifacts.indexOf(artifact), 1);
      await context.world.blobs.delete('artifacts', artifact.blob);
      return { ok: true, artifact_id: String(artifact.id) };
    },
  },
};
