import type { GitHub, Repository } from '../github.js';
import { releaseNumber, releaseTag } from '../names.js';

/**
 * The ledger of one app and environment: GitHub Releases tagged `<app>/<environment>/v<N>`. Its
 * index is the tags alone, all of them in one `git/matching-refs` request (GitHub answers every
 * matching ref at once), so reading it costs the same at ten releases and at ten thousand.
 */

export interface LedgerScope extends Repository {
  app: string;
  environment: string;
}

export interface LedgerTag {
  id: string;
  number: number;
  tag: string;
  /** What the ref points at: a tag object (a reservation made by release-action) or a commit. */
  object: { sha: string; type: string };
}

export interface LedgerIndex {
  /** Numbered tags, lowest first. */
  tags: LedgerTag[];
  /** The highest number taken, 0 for an empty ledger. */
  highest: number;
}

export function tagPrefix(scope: LedgerScope): string {
  return `${scope.app}/${scope.environment}/`;
}

export function tagOf(scope: LedgerScope, id: string): string {
  return releaseTag(scope.app, scope.environment, id);
}

export function repositoryOf(scope: LedgerScope): Repository {
  return { owner: scope.owner, repo: scope.repo };
}

/** One request: every `v<N>` tag of the scope. Other IDs are outside the numbered ledger. */
export async function readIndex(github: GitHub, scope: LedgerScope): Promise<LedgerIndex> {
  const { data } = await github.rest.git.listMatchingRefs({
    ...repositoryOf(scope),
    ref: `tags/${tagPrefix(scope)}v`,
  });
  const tags: LedgerTag[] = [];
  for (const ref of data) {
    const tag = ref.ref.slice('refs/tags/'.length);
    const id = tag.slice(tagPrefix(scope).length);
    const number = releaseNumber(id);
    if (number === undefined) continue;
    tags.push({ id, number, tag, object: { sha: ref.object.sha, type: ref.object.type } });
  }
  tags.sort((a, b) => a.number - b.number);
  return { tags, highest: tags.at(-1)?.number ?? 0 };
}
