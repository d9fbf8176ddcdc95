import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** Who made a change: the token's identity. */
export interface Actor {
  login: string;
  id: number;
  type: 'User' | 'Bot';
}

export const actionsBot: Actor = { login: 'github-actions[bot]', id: 41898282, type: 'Bot' };

export interface AssetState {
  id: number;
  name: string;
  label: string | null;
  contentType: string;
  size: number;
  digest: string;
  blob: string;
  uploader: Actor;
  createdAt: string;
  updatedAt: string;
  downloadCount: number;
}

export interface ReleaseState {
  id: number;
  tagName: string;
  targetCommitish: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  /** Locked at publish when the repository has immutable releases on. */
  immutable: boolean;
  author: Actor;
  createdAt: string;
  publishedAt: string | null;
  updatedAt: string;
  /** Hex token in a draft's html_url (`untagged-…`), as on GitHub. */
  untagged: string;
  assets: AssetState[];
}

export interface DeploymentStatusState {
  id: number;
  state: 'error' | 'failure' | 'inactive' | 'pending' | 'success' | 'queued' | 'in_progress';
  description: string;
  environment: string;
  environmentUrl: string;
  logUrl: string;
  targetUrl: string;
  creator: Actor;
  createdAt: string;
}

export interface DeploymentState {
  id: number;
  sha: string;
  ref: string;
  task: string;
  payload: Record<string, unknown> | string;
  environment: string;
  originalEnvironment: string;
  description: string | null;
  transientEnvironment: boolean;
  productionEnvironment: boolean;
  creator: Actor;
  createdAt: string;
  updatedAt: string;
  statuses: DeploymentStatusState[];
}

export interface RepositoryState {
  id: number;
  owner: string;
  name: string;
  fullName: string;
  visibility: 'public' | 'private';
  immutableReleases: boolean;
  defaultBranch: string;
  createdAt: string;
  /** Full ref name (`refs/heads/main`, `refs/tags/v1`) → commit SHA. */
  refs: Map<string, string>;
  releases: ReleaseState[];
  /** Tags an immutable release was published on: never reusable, even after deletion. */
  immutableTags: Set<string>;
  deployments: DeploymentState[];
}

/** One workflow run as the results service knows it: backend IDs from the runtime token. */
export interface RunState {
  repository: string;
  runId: number;
  backendId: string;
  headSha: string;
  headBranch: string;
}

export interface ArtifactState {
  id: number;
  repository: string;
  runId: number;
  runBackendId: string;
  jobBackendId: string;
  name: string;
  mimeType: string;
  blob: string;
  size: number;
  digest: string | null;
  finalized: boolean;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
}

export interface CacheEntryState {
  id: number;
  repository: string;
  /** The ref the entry belongs to (`refs/heads/main`); reads fall back to the default branch. */
  scope: string;
  key: string;
  version: string;
  blob: string;
  size: number;
  finalized: boolean;
  createdAt: string;
}

export interface RepositoryOptions {
  /** GitHub's "immutable releases" setting; default true. */
  immutableReleases?: boolean;
  /** Default public, so that unauthenticated reads (and their hiding of drafts) can be seen. */
  visibility?: 'public' | 'private';
  defaultBranch?: string;
  /** SHA of the default branch's head; random when not given. */
  headSha?: string;
}

export function randomSha(): string {
  return randomBytes(20).toString('hex');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Everything the emulated GitHub holds, in memory. */
export class State {
  private nextId = 1000;
  readonly repositories = new Map<string, RepositoryState>();
  readonly runs = new Map<string, RunState>();
  readonly artifacts: ArtifactState[] = [];
  readonly caches: CacheEntryState[] = [];
  /** Valid tokens and who they are. */
  readonly tokens = new Map<string, Actor>();

  id(): number {
    return this.nextId++;
  }

  now(): string {
    return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  createRepository(fullName: string, options: RepositoryOptions = {}): RepositoryState {
    const key = fullName.toLowerCase();
    const match = /^([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)$/.exec(fullName);
    if (!match) throw new Error(`createRepository: expected owner/name, got ${fullName}`);
    if (this.repositories.has(key)) throw new Error(`createRepository: ${fullName} exists`);
    const defaultBranch = options.defaultBranch ?? 'main';
    const repository: RepositoryState = {
      id: this.id(),
      owner: match[1] ?? '',
      name: match[2] ?? '',
      fullName,
      visibility: options.visibility ?? 'public',
      immutableReleases: options.immutableReleases ?? true,
      defaultBranch,
      createdAt: this.now(),
      refs: new Map([[`refs/heads/${defaultBranch}`, options.headSha ?? randomSha()]]),
      releases: [],
      immutableTags: new Set(),
      deployments: [],
    };
    this.repositories.set(key, repository);
    return repository;
  }

  repository(owner: string, name: string): RepositoryState | undefined {
    return this.repositories.get(`${owner}/${name}`.toLowerCase());
  }

  /** The run with this GITHUB_RUN_ID in this repository, made on first use. */
  run(repository: RepositoryState, runId: number, ref: string): RunState {
    for (const run of this.runs.values()) {
      if (run.repository === repository.fullName && run.runId === runId) return run;
    }
    const run: RunState = {
      repository: repository.fullName,
      runId,
      backendId: randomUUID(),
      headSha:
        repository.refs.get(ref) ??
        repository.refs.get(`refs/heads/${repository.defaultBranch}`) ??
        randomSha(),
      headBranch: ref.replace(/^refs\/heads\//, ''),
    };
    this.runs.set(run.backendId, run);
    return run;
  }
}

export interface ReleaseSnapshot {
  id: number;
  tag: string;
  name: string | null;
  body: string | null;
  targetCommitish: string;
  draft: boolean;
  prerelease: boolean;
  immutable: boolean;
  publishedAt: string | null;
  assets: { id: number; name: string; size: number; digest: string; contentType: string }[];
}

export interface RepositorySnapshot {
  fullName: string;
  immutableReleases: boolean;
  releases: ReleaseSnapshot[];
  /** Tag name → commit SHA. */
  tags: Record<string, string>;
  /** Full ref name → commit SHA. */
  refs: Record<string, string>;
  artifacts: {
    id: number;
    name: string;
    runId: number;
    size: number;
    digest: string | null;
    finalized: boolean;
  }[];
  caches: {
    id: number;
    key: string;
    version: string;
    scope: string;
    size: number;
    finalized: boolean;
  }[];
  deployments: {
    id: number;
    environment: string;
    ref: string;
    sha: string;
    task: string;
    payload: Record<string, unknown> | string;
    transientEnvironment: boolean;
    productionEnvironment: boolean;
    /** Oldest first. */
    statuses: { state: string; environmentUrl: string; description: string }[];
  }[];
}

export function snapshot(state: State, repository: RepositoryState): RepositorySnapshot {
  const refs = Object.fromEntries([...repository.refs].sort(([a], [b]) => a.localeCompare(b)));
  return structuredClone({
    fullName: repository.fullName,
    immutableReleases: repository.immutableReleases,
    releases: repository.releases.map((release) => ({
      id: release.id,
      tag: release.tagName,
      name: release.name,
      body: release.body,
      targetCommitish: release.targetCommitish,
      draft: release.draft,
      prerelease: release.prerelease,
      immutable: release.immutable,
      publishedAt: release.publishedAt,
      assets: release.assets.map((asset) => ({
        id: asset.id,
        name: asset.name,
        size: asset.size,
        digest: asset.digest,
        contentType: asset.contentType,
      })),
    })),
    tags: Object.fromEntries(
      Object.entries(refs)
        .filter(([ref]) => ref.startsWith('refs/tags/'))
        .map(([ref, sha]) => [ref.slice('refs/tags/'.length), sha]),
    ),
    refs,
    artifacts: state.artifacts
      .filter((artifact) => artifact.repository === repository.fullName)
      .map((artifact) => ({
        id: artifact.id,
        name: artifact.name,
        runId: artifact.runId,
        size: artifact.size,
        digest: artifact.digest,
        finalized: artifact.finalized,
      })),
    caches: state.caches
      .filter((entry) => entry.repository === repository.fullName)
      .map((entry) => ({
        id: entry.id,
        key: entry.key,
        version: entry.version,
        scope: entry.scope,
        size: entry.size,
        finalized: entry.finalized,
      })),
    deployments: repository.deployments.map((deployment) => ({
      id: deployment.id,
      environment: deployment.environment,
      ref: deployment.ref,
      sha: deployment.sha,
      task: deployment.task,
      payload: deployment.payload,
      transientEnvironment: deployment.transientEnvironment,
      productionEnvironment: deployment.productionEnvironment,
      statuses: deployment.statuses.map((status) => ({
        state: status.state,
        environmentUrl: status.environmentUrl,
        description: status.description,
      })),
    })),
  });
}
