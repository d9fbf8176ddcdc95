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
  /**
   * `starter` is what a failed upload leaves behind (GitHub's own description lists only
   * `uploaded` and `open`): the name stays taken until the asset is deleted.
   */
  state: 'uploaded' | 'starter';
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

/** An annotated tag object (`POST git/tags`): a name and a message pointing at a commit. */
export interface TagObjectState {
  sha: string;
  tag: string;
  message: string;
  /** The commit it points at. */
  object: string;
  tagger: { name: string; email: string; date: string };
}

/** A repository ruleset; only what refusing ref creation, update and deletion needs. */
export interface RulesetState {
  id: number;
  name: string;
  target: 'branch' | 'tag';
  enforcement: 'active' | 'disabled' | 'evaluate';
  /** fnmatch patterns of full ref names (`refs/tags/shop/*`), or `~ALL`. */
  include: string[];
  exclude: string[];
  rules: ('creation' | 'update' | 'deletion')[];
  createdAt: string;
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
  /** Tag objects by SHA; a tag ref may point at one. */
  tagObjects: Map<string, TagObjectState>;
  /**
   * What each commit's `.github/workflows/` holds, as a version label; a commit not listed has
   * the label of the repository's first head. Only equality matters.
   */
  workflows: Map<string, string>;
  rulesets: RulesetState[];
  /** The Actions token's budget on this repository: requests used in the hour ending `reset`. */
  rateLimit: { used: number; reset: number };
}

/**
 * One attempt of a workflow run, as the results service knows it: each attempt has its own
 * backend ID in the runtime token, so its artifacts are its own.
 */
export interface RunState {
  repository: string;
  runId: number;
  attempt: number;
  backendId: string;
  headSha: string;
  headBranch: string;
  /** The repository the run's commit comes from: a fork's ID for a fork's pull request. */
  headRepositoryId: number;
  status: 'in_progress' | 'completed';
  createdAt: string;
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

/** Where a run comes from, when not from the default branch's head of its own repository. */
export interface RunOrigin {
  ref: string;
  /** GITHUB_SHA and the run's head_sha; default the ref's commit. */
  sha?: string;
  /** A run attempt; default 1. */
  attempt?: number;
  /** The repository a fork's pull request comes from (`evil/shop`); default the run's own. */
  headRepositoryId?: number;
}

/** The workflows label of a repository's first commit. */
export const INITIAL_WORKFLOWS = 'initial';

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
      tagObjects: new Map(),
      workflows: new Map(),
      rulesets: [],
      rateLimit: { used: 0, reset: 0 },
    };
    this.repositories.set(key, repository);
    return repository;
  }

  repository(owner: string, name: string): RepositoryState | undefined {
    return this.repositories.get(`${owner}/${name}`.toLowerCase());
  }

  /** The attempt of the run with this GITHUB_RUN_ID in this repository, made on first use. */
  run(repository: RepositoryState, runId: number, origin: RunOrigin): RunState {
    const attempt = origin.attempt ?? 1;
    const known = this.attempts(repository, runId).find((run) => run.attempt === attempt);
    if (known) return known;
    const run: RunState = {
      repository: repository.fullName,
      runId,
      attempt,
      backendId: randomUUID(),
      headSha:
        origin.sha ??
        repository.refs.get(origin.ref) ??
        repository.refs.get(`refs/heads/${repository.defaultBranch}`) ??
        randomSha(),
      headBranch: origin.ref.replace(/^refs\/heads\//, ''),
      headRepositoryId: origin.headRepositoryId ?? repository.id,
      status: 'in_progress',
      createdAt: this.now(),
    };
    this.runs.set(run.backendId, run);
    return run;
  }

  /** The attempts of a run, first to last. */
  attempts(repository: RepositoryState, runId: number): RunState[] {
    return [...this.runs.values()]
      .filter((run) => run.repository === repository.fullName && run.runId === runId)
      .sort((a, b) => a.attempt - b.attempt);
  }
}
