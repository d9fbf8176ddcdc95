import { statusOf, type GitHub } from '../github.js';
import type { Log } from '../log.js';
import { readRelease } from './releases.js';
import { readIndex, repositoryOf, type LedgerScope } from './tags.js';

/**
 * Deletes an environment's releases (a closed pull request's preview), each read by its tag:
 * nothing lists every release of the repository. Tags go too, except, when the releases were
 * immutable, the highest: those names are never given out again, and the tag left behind keeps
 * the numbering going when the pull request is reopened, instead of every old number being
 * tried and refused.
 */
export async function deleteLedger(
  github: GitHub,
  scope: LedgerScope,
  log: Log,
): Promise<string[]> {
  const { tags } = await readIndex(github, scope);
  const deleted: string[] = [];
  let immutable = false;
  for (const tag of tags) {
    const entry = await readRelease(github, scope, tag.tag);
    if (!entry) continue;
    immutable ||= entry.immutable;
    await github.rest.repos.deleteRelease({ ...repositoryOf(scope), release_id: entry.releaseId });
    log.info(`Deleted release ${tag.tag}`);
    deleted.push(tag.tag);
  }
  const floor = immutable ? tags.at(-1)?.tag : undefined;
  for (const tag of tags) {
    if (tag.tag === floor) continue;
    try {
      await github.rest.git.deleteRef({ ...repositoryOf(scope), ref: `tags/${tag.tag}` });
    } catch (error) {
      if (statusOf(error) !== 404 && statusOf(error) !== 422) throw error;
    }
  }
  if (floor) log.info(`Kept the tag ${floor}: the next release of ${scope.environment} follows it`);
  return deleted;
}
