import { peel } from './rules.js';
import type { RepositoryState, State } from './state.js';

/** What a test reads of the emulated GitHub: a deep copy, so nothing it does changes the state. */

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
  assets: {
    id: number;
    name: string;
    size: number;
    digest: string;
    contentType: string;
    state: 'uploaded' | 'starter';
  }[];
}

export interface RepositorySnapshot {
  fullName: string;
  immutableReleases: boolean;
  releases: ReleaseSnapshot[];
  /** Tag name → the SHA its ref holds (a commit, or a tag object). */
  tags: Record<string, string>;
  /** Tag name → the commit it stands for, through a tag object where there is one. */
  tagCommits: Record<string, string>;
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
  const tagRefs = Object.entries(refs)
    .filter(([ref]) => ref.startsWith('refs/tags/'))
    .map(([ref, sha]) => [ref.slice('refs/tags/'.length), sha] as const);
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
        state: asset.state,
      })),
    })),
    tags: Object.fromEntries(tagRefs.map(([tag, sha]) => [tag, sha])),
    tagCommits: Object.fromEntries(tagRefs.map(([tag, sha]) => [tag, peel(repository, sha)])),
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
