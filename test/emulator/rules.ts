import type { Actor, RepositoryState, RulesetState } from './state.js';
import { INITIAL_WORKFLOWS } from './state.js';
import { HttpError } from './world.js';

/**
 * The rules github.com enforces that a kinder emulator would let pass, each one a reason a
 * release job fails in ordinary use: the Actions token and workflow files, tag names that can
 * never be reused, tag rulesets, and the Actions token's request budget.
 */

/** The commit a ref or tag-object SHA stands for. */
export function peel(repository: RepositoryState, sha: string): string {
  return repository.tagObjects.get(sha)?.object ?? sha;
}

function workflowsAt(repository: RepositoryState, commit: string): string {
  return repository.workflows.get(commit) ?? INITIAL_WORKFLOWS;
}

/**
 * The Actions token cannot be given the `workflows` permission, so GitHub refuses it a ref or a
 * release at a commit whose `.github/workflows/` differs from the default branch's head.
 */
export function touchesWorkflows(
  repository: RepositoryState,
  actor: Actor | undefined,
  commit: string,
): boolean {
  if (actor?.type !== 'Bot') return false;
  const head = repository.refs.get(`refs/heads/${repository.defaultBranch}`) ?? '';
  return workflowsAt(repository, peel(repository, commit)) !== workflowsAt(repository, head);
}

/** git/refs answers 403 for it; releases answer 404 (GitHub's OpenAPI description says both). */
export const WORKFLOW_REFUSAL = 'Resource not accessible by integration';

/** GitHub's fnmatch for ruleset conditions: `*` stops at `/`, `**` does not. */
export function rulePatternMatches(pattern: string, ref: string): boolean {
  if (pattern === '~ALL') return true;
  const source = pattern
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*'),
    )
    .join('.*');
  return new RegExp(`^${source}$`).test(ref);
}

function rulesetApplies(ruleset: RulesetState, ref: string, rule: RulesetState['rules'][number]) {
  return (
    ruleset.enforcement === 'active' &&
    ruleset.rules.includes(rule) &&
    ruleset.target === (ref.startsWith('refs/tags/') ? 'tag' : 'branch') &&
    ruleset.include.some((pattern) => rulePatternMatches(pattern, ref)) &&
    !ruleset.exclude.some((pattern) => rulePatternMatches(pattern, ref))
  );
}

const CREATION = 'Cannot create ref due to creations being restricted.';
const DELETION = 'Cannot delete this protected ref.';

/** GitHub's 422 for a ref change a repository rule forbids. */
export function ruleViolation(rule: string): HttpError {
  return new HttpError(422, `Repository rule violations found\n\n${rule}\n\n`);
}

/**
 * Why creating this ref is refused, if it is: a tag name once used by an immutable release (even
 * a deleted one), or a ruleset restricting creation.
 */
export function creationRefused(repository: RepositoryState, ref: string): string | undefined {
  if (ref.startsWith('refs/tags/') && repository.immutableTags.has(ref.slice(10))) return CREATION;
  return repository.rulesets.some((ruleset) => rulesetApplies(ruleset, ref, 'creation'))
    ? CREATION
    : undefined;
}

export function deletionRefused(repository: RepositoryState, ref: string): string | undefined {
  return repository.rulesets.some((ruleset) => rulesetApplies(ruleset, ref, 'deletion'))
    ? DELETION
    : undefined;
}

/** The Actions token may make 1,000 requests an hour on a repository. */
export const ACTIONS_TOKEN_LIMIT = 1000;

/**
 * Counts one request of the Actions token on a repository and returns its rate-limit headers;
 * past the budget, GitHub's primary rate-limit answer.
 */
export function spendRequest(
  repository: RepositoryState,
  now = Date.now(),
): Record<string, string> {
  const budget = repository.rateLimit;
  if (budget.reset * 1000 <= now) {
    budget.used = 0;
    budget.reset = Math.ceil(now / 1000) + 3600;
  }
  budget.used++;
  const headers = {
    'x-ratelimit-limit': String(ACTIONS_TOKEN_LIMIT),
    'x-ratelimit-remaining': String(Math.max(0, ACTIONS_TOKEN_LIMIT - budget.used)),
    'x-ratelimit-used': String(Math.min(budget.used, ACTIONS_TOKEN_LIMIT)),
    'x-ratelimit-reset': String(budget.reset),
    'x-ratelimit-resource': 'core',
  };
  if (budget.used > ACTIONS_TOKEN_LIMIT) {
    throw new HttpError(403, 'API rate limit exceeded for installation.', undefined, headers);
  }
  return headers;
}
