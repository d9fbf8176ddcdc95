import { statusOf, type GitHub } from '../github.js';
import { repositoryOf, type LedgerScope, type LedgerTag } from './tags.js';

/**
 * Who holds a release number: the tag object a release job creates to reserve it names its run,
 * attempt and build, and a nonce only that job knows. So a tag without a published release is
 * told apart: its job still runs (wait for it), or it ended (skip it).
 */

export interface Holder {
  runId: number;
  attempt: number;
  /** The build's commit: the tag points elsewhere, so this is the one place a tag names it. */
  build: string;
  nonce: string;
}

const HEADER = 'build-release-run reservation';

export function reservationMessage(holder: Holder): string {
  return [
    HEADER,
    '',
    `run: ${holder.runId}`,
    `attempt: ${holder.attempt}`,
    `build: ${holder.build}`,
    `nonce: ${holder.nonce}`,
    '',
  ].join('\n');
}

export function parseReservation(message: string): Holder | undefined {
  const lines = message.split('\n');
  if (lines[0] !== HEADER) return undefined;
  const fields = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const at = line.indexOf(': ');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 2));
  }
  const runId = Number(fields.get('run'));
  const attempt = Number(fields.get('attempt'));
  const build = fields.get('build');
  const nonce = fields.get('nonce');
  if (!Number.isSafeInteger(runId) || !Number.isSafeInteger(attempt) || !build || !nonce) {
    return undefined;
  }
  return { runId, attempt, build, nonce };
}

/** The job that reserved a tag, when a release job did (one request). */
export async function holderOf(
  github: GitHub,
  scope: LedgerScope,
  tag: LedgerTag,
): Promise<Holder | undefined> {
  if (tag.object.type !== 'tag') return undefined;
  const { data } = await github.rest.git.getTag({
    ...repositoryOf(scope),
    tag_sha: tag.object.sha,
  });
  return parseReservation(data.message);
}

/**
 * Whether the holder's job has ended (one request): its run completed, or a later attempt of
 * the run started. A run the token may not read counts as still running.
 */
export async function holderGone(github: GitHub, scope: LedgerScope, holder: Holder) {
  try {
    const { data } = await github.rest.actions.getWorkflowRun({
      ...repositoryOf(scope),
      run_id: holder.runId,
    });
    return data.status === 'completed' || (data.run_attempt ?? 1) > holder.attempt;
  } catch (error) {
    if (statusOf(error) === 404) return true;
    if (statusOf(error) === 403) return false;
    throw error;
  }
}

/** Where a tag points now, or undefined when it is gone (one request). */
export async function readTagRef(
  github: GitHub,
  scope: LedgerScope,
  tag: string,
): Promise<string | undefined> {
  try {
    const { data } = await github.rest.git.getRef({ ...repositoryOf(scope), ref: `tags/${tag}` });
    return data.object.sha;
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}
