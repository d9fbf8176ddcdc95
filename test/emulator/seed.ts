import { randomBytes } from 'node:crypto';
import { actionsBot, type RepositoryState, type RulesetState, type State } from './state.js';

/** What a test puts straight into the emulator's state, without a request per item. */

export interface RulesetOptions {
  name: string;
  /** fnmatch patterns of full ref names (`refs/tags/shop/production/*`), or `~ALL`. */
  include: string[];
  exclude?: string[];
  target?: RulesetState['target'];
  enforcement?: RulesetState['enforcement'];
  rules?: RulesetState['rules'];
}

export interface SeedOptions {
  app: string;
  environment: string;
  /** Releases v<from> … v<from + count - 1>. */
  count: number;
  from?: number;
}

/**
 * A long ledger, as years of releases leave it: published (immutable when the repository says
 * so) releases tagged `<app>/<environment>/v<N>` at the default branch's head, without assets.
 */
export function seedReleases(state: State, repository: RepositoryState, seed: SeedOptions): void {
  const head = repository.refs.get(`refs/heads/${repository.defaultBranch}`) ?? '';
  const now = state.now();
  const from = seed.from ?? 1;
  for (let n = from; n < from + seed.count; n++) {
    const tag = `${seed.app}/${seed.environment}/v${n}`;
    repository.refs.set(`refs/tags/${tag}`, head);
    repository.releases.push({
      id: state.id(),
      tagName: tag,
      targetCommitish: repository.defaultBranch,
      name: tag,
      body: null,
      draft: false,
      prerelease: false,
      immutable: repository.immutableReleases,
      author: actionsBot,
      createdAt: now,
      publishedAt: now,
      updatedAt: now,
      untagged: randomBytes(10).toString('hex'),
      assets: [],
    });
    if (repository.immutableReleases) repository.immutableTags.add(tag);
  }
}
