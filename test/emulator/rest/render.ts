import type {
  Actor,
  ArtifactState,
  AssetState,
  DeploymentState,
  DeploymentStatusState,
  ReleaseState,
  RepositoryState,
  RulesetState,
  RunState,
  TagObjectState,
} from '../state.js';
import { HttpError, type World } from '../world.js';
import type { RestContext } from './server.js';

/** GitHub's JSON for each resource, with URLs that point back at this emulator. */

function nodeId(kind: string, id: number): string {
  return `${kind}_${Buffer.from(`${kind}:${id}`).toString('base64url')}`;
}

export function repoApi(world: World, repository: RepositoryState): string {
  return `${world.urls.api}/repos/${repository.fullName}`;
}

export function simpleUser(world: World, actor: Actor) {
  const api = `${world.urls.api}/users/${encodeURIComponent(actor.login)}`;
  return {
    login: actor.login,
    id: actor.id,
    node_id: nodeId('U', actor.id),
    avatar_url: `${world.urls.server}/avatars/${actor.id}`,
    gravatar_id: '',
    url: api,
    html_url: `${world.urls.server}/apps/github-actions`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: actor.type,
    user_view_type: 'public',
    site_admin: false,
  };
}

export function assetJson(
  world: World,
  repository: RepositoryState,
  release: ReleaseState,
  asset: AssetState,
) {
  return {
    url: `${repoApi(world, repository)}/releases/assets/${asset.id}`,
    id: asset.id,
    node_id: nodeId('RA', asset.id),
    name: asset.name,
    label: asset.label,
    uploader: simpleUser(world, asset.uploader),
    content_type: asset.contentType,
    state: asset.state,
    size: asset.size,
    digest: asset.digest,
    download_count: asset.downloadCount,
    created_at: asset.createdAt,
    updated_at: asset.updatedAt,
    browser_download_url: `${world.urls.server}/${repository.fullName}/releases/download/${release.tagName.split('/').map(encodeURIComponent).join('/')}/${encodeURIComponent(asset.name)}`,
  };
}

export function releaseJson(world: World, repository: RepositoryState, release: ReleaseState) {
  const api = repoApi(world, repository);
  const tag = release.tagName.split('/').map(encodeURIComponent).join('/');
  return {
    url: `${api}/releases/${release.id}`,
    assets_url: `${api}/releases/${release.id}/assets`,
    upload_url: `${world.urls.uploads}/repos/${repository.fullName}/releases/${release.id}/assets{?name,label}`,
    html_url: `${world.urls.server}/${repository.fullName}/releases/tag/${release.draft ? `untagged-${release.untagged}` : tag}`,
    id: release.id,
    author: simpleUser(world, release.author),
    node_id: nodeId('RE', release.id),
    tag_name: release.tagName,
    target_commitish: release.targetCommitish,
    name: release.name,
    draft: release.draft,
    immutable: release.immutable,
    prerelease: release.prerelease,
    created_at: release.createdAt,
    updated_at: release.updatedAt,
    published_at: release.publishedAt,
    assets: release.assets.map((asset) => assetJson(world, repository, release, asset)),
    tarball_url: `${api}/tarball/${tag}`,
    zipball_url: `${api}/zipball/${tag}`,
    body: release.body,
  };
}

/** A ref points at a commit or at a tag object; GitHub says which. */
export function refJson(world: World, repository: RepositoryState, ref: string, sha: string) {
  const api = repoApi(world, repository);
  const type = repository.tagObjects.has(sha) ? 'tag' : 'commit';
  return {
    ref,
    node_id: nodeId('REF', hashCode(`${repository.fullName}:${ref}`)),
    url: `${api}/git/${ref}`,
    object: { sha, type, url: `${api}/git/${type}s/${sha}` },
  };
}

export function tagObjectJson(world: World, repository: RepositoryState, tag: TagObjectState) {
  const api = repoApi(world, repository);
  return {
    node_id: nodeId('TAG', hashCode(tag.sha)),
    tag: tag.tag,
    sha: tag.sha,
    url: `${api}/git/tags/${tag.sha}`,
    message: tag.message,
    tagger: tag.tagger,
    object: { sha: tag.object, type: 'commit', url: `${api}/git/commits/${tag.object}` },
    verification: {
      verified: false,
      reason: 'unsigned',
      signature: null,
      payload: null,
      verified_at: null,
    },
  };
}

/** A ruleset; the list leaves out conditions and rules, as GitHub's list does. */
export function rulesetJson(
  world: World,
  repository: RepositoryState,
  ruleset: RulesetState,
  full: boolean,
) {
  const api = repoApi(world, repository);
  return {
    id: ruleset.id,
    name: ruleset.name,
    target: ruleset.target,
    source_type: 'Repository',
    source: repository.fullName,
    enforcement: ruleset.enforcement,
    node_id: nodeId('RRS', ruleset.id),
    _links: {
      self: { href: `${api}/rulesets/${ruleset.id}` },
      html: { href: `${world.urls.server}/${repository.fullName}/rules/${ruleset.id}` },
    },
    created_at: ruleset.createdAt,
    updated_at: ruleset.createdAt,
    ...(full
      ? {
          current_user_can_bypass: 'never',
          bypass_actors: [],
          conditions: { ref_name: { include: ruleset.include, exclude: ruleset.exclude } },
          rules: ruleset.rules.map((type) => ({ type })),
        }
      : {}),
  };
}

function hashCode(text: string): number {
  let hash = 0;
  for (const char of text) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash;
}

export function artifactJson(
  world: World,
  repository: RepositoryState,
  artifact: ArtifactState,
  run: RunState | undefined,
) {
  const api = repoApi(world, repository);
  return {
    id: artifact.id,
    node_id: nodeId('MDg', artifact.id),
    name: artifact.name,
    size_in_bytes: artifact.size,
    url: `${api}/actions/artifacts/${artifact.id}`,
    archive_download_url: `${api}/actions/artifacts/${artifact.id}/zip`,
    expired: Date.parse(artifact.expiresAt) <= Date.now(),
    digest: artifact.digest,
    created_at: artifact.createdAt,
    updated_at: artifact.updatedAt,
    expires_at: artifact.expiresAt,
    workflow_run: {
      id: artifact.runId,
      repository_id: repository.id,
      head_repository_id: run?.headRepositoryId ?? repository.id,
      head_branch: run?.headBranch ?? repository.defaultBranch,
      head_sha: run?.headSha ?? '',
    },
  };
}

export function deploymentJson(
  world: World,
  repository: RepositoryState,
  deployment: DeploymentState,
) {
  const api = repoApi(world, repository);
  return {
    url: `${api}/deployments/${deployment.id}`,
    id: deployment.id,
    node_id: nodeId('DE', deployment.id),
    sha: deployment.sha,
    ref: deployment.ref,
    task: deployment.task,
    payload: deployment.payload,
    original_environment: deployment.originalEnvironment,
    environment: deployment.environment,
    description: deployment.description,
    creator: simpleUser(world, deployment.creator),
    created_at: deployment.createdAt,
    updated_at: deployment.updatedAt,
    statuses_url: `${api}/deployments/${deployment.id}/statuses`,
    repository_url: api,
    transient_environment: deployment.transientEnvironment,
    production_environment: deployment.productionEnvironment,
  };
}

export function deploymentStatusJson(
  world: World,
  repository: RepositoryState,
  deployment: DeploymentState,
  status: DeploymentStatusState,
) {
  const api = repoApi(world, repository);
  return {
    url: `${api}/deployments/${deployment.id}/statuses/${status.id}`,
    id: status.id,
    node_id: nodeId('DES', status.id),
    state: status.state,
    creator: simpleUser(world, status.creator),
    description: status.description,
    environment: status.environment,
    target_url: status.targetUrl,
    created_at: status.createdAt,
    updated_at: status.createdAt,
    deployment_url: `${api}/deployments/${deployment.id}`,
    repository_url: api,
    environment_url: status.environmentUrl,
    log_url: status.logUrl,
  };
}

export function repositoryJson(world: World, repository: RepositoryState) {
  const api = repoApi(world, repository);
  const html = `${world.urls.server}/${repository.fullName}`;
  const owner: Actor = { login: repository.owner, id: hashCode(repository.owner), type: 'User' };
  return {
    id: repository.id,
    node_id: nodeId('R', repository.id),
    name: repository.name,
    full_name: repository.fullName,
    owner: simpleUser(world, owner),
    private: repository.visibility === 'private',
    visibility: repository.visibility,
    html_url: html,
    description: null,
    fork: false,
    url: api,
    archive_url: `${api}/{archive_format}{/ref}`,
    assignees_url: `${api}/assignees{/user}`,
    blobs_url: `${api}/git/blobs{/sha}`,
    branches_url: `${api}/branches{/branch}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    comments_url: `${api}/comments{/number}`,
    commits_url: `${api}/commits{/sha}`,
    compare_url: `${api}/compare/{base}...{head}`,
    contents_url: `${api}/contents/{+path}`,
    contributors_url: `${api}/contributors`,
    deployments_url: `${api}/deployments`,
    downloads_url: `${api}/downloads`,
    events_url: `${api}/events`,
    forks_url: `${api}/forks`,
    git_commits_url: `${api}/git/commits{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_url: `git://github.localhost/${repository.fullName}.git`,
    hooks_url: `${api}/hooks`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    issue_events_url: `${api}/issues/events{/number}`,
    issues_url: `${api}/issues{/number}`,
    keys_url: `${api}/keys{/key_id}`,
    labels_url: `${api}/labels{/name}`,
    languages_url: `${api}/languages`,
    merges_url: `${api}/merges`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    pulls_url: `${api}/pulls{/number}`,
    releases_url: `${api}/releases{/id}`,
    ssh_url: `git@github.localhost:${repository.fullName}.git`,
    stargazers_url: `${api}/stargazers`,
    statuses_url: `${api}/statuses/{sha}`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    tags_url: `${api}/tags`,
    teams_url: `${api}/teams`,
    trees_url: `${api}/git/trees{/sha}`,
    clone_url: `${html}.git`,
    mirror_url: null,
    svn_url: html,
    homepage: null,
    language: null,
    forks_count: 0,
    forks: 0,
    stargazers_count: 0,
    watchers_count: 0,
    watchers: 0,
    size: 0,
    default_branch: repository.defaultBranch,
    open_issues_count: 0,
    open_issues: 0,
    is_template: false,
    topics: [],
    has_issues: true,
    has_projects: true,
    has_wiki: false,
    has_pages: false,
    has_downloads: true,
    has_discussions: false,
    archived: false,
    disabled: false,
    pushed_at: repository.createdAt,
    created_at: repository.createdAt,
    updated_at: repository.createdAt,
    allow_forking: true,
    web_commit_signoff_required: false,
    license: null,
    network_count: 0,
    subscribers_count: 0,
  };
}

/**
 * GitHub's pagination: `per_page` (default 30, at most 100) and `page`, with a Link header
 * (`first`, `prev`, `next`, `last`) when there is more than one page.
 */
export function paginate<T>(
  context: RestContext,
  items: T[],
): { items: T[]; headers: Record<string, string> } {
  const perPage = Math.min(100, Math.max(1, Number(context.query.per_page ?? 30) || 30));
  const page = Math.max(1, Number(context.query.page ?? 1) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const link = (n: number, rel: string) => {
    const url = new URL(context.url.pathname + context.url.search, context.world.urls.api);
    url.searchParams.set('per_page', String(perPage));
    url.searchParams.set('page', String(n));
    return `<${url.href}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page > 1) links.push(link(page - 1, 'prev'));
  if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
  if (page > 1) links.push(link(1, 'first'));
  return {
    items: items.slice((page - 1) * perPage, page * perPage),
    headers: links.length > 0 ? { link: links.join(', ') } : {},
  };
}

/** An entry of `GET tags`: the tag's commit (peeled), and its archives. */
export function tagJson(world: World, repository: RepositoryState, ref: string, sha: string) {
  const api = repoApi(world, repository);
  const name = ref.slice('refs/tags/'.length);
  const commit = repository.tagObjects.get(sha)?.object ?? sha;
  return {
    name,
    commit: { sha: commit, url: `${api}/commits/${commit}` },
    zipball_url: `${api}/zipball/refs/tags/${name}`,
    tarball_url: `${api}/tarball/refs/tags/${name}`,
    node_id: nodeId('REF', hashCode(`${repository.fullName}:${ref}`)),
  };
}

/** GitHub's lists of releases and tags stop at 1,000 results: a page past them is refused. */
export const LIST_LIMIT = 1000;

export function paginateFirstThousand<T>(
  context: RestContext,
  items: T[],
): { items: T[]; headers: Record<string, string> } {
  const perPage = Math.min(100, Math.max(1, Number(context.query.per_page ?? 30) || 30));
  const page = Math.max(1, Number(context.query.page ?? 1) || 1);
  if ((page - 1) * perPage >= LIST_LIMIT) {
    throw new HttpError(422, `Only the first ${LIST_LIMIT} results are available.`);
  }
  return paginate(context, items.slice(0, LIST_LIMIT));
}
