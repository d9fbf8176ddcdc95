import { createHash } from 'node:crypto';
import type { RepositoryState } from '../state.js';
import {
  creationRefused,
  deletionRefused,
  peel,
  ruleViolation,
  touchesWorkflows,
  WORKFLOW_REFUSAL,
} from '../rules.js';
import { HttpError } from '../world.js';
import { refJson, tagObjectJson } from './render.js';
import { writer, type RestContext, type RestHandler } from './server.js';

/** Git references (branches and tags, each a name pointing at a commit or a tag object) and tag objects. */

function fullRef(context: RestContext): string {
  const ref = String(context.params.ref);
  return ref.startsWith('refs/') ? ref : `refs/${ref}`;
}

/** The tag of a published immutable release is locked with it. */
function locked(context: RestContext, ref: string): boolean {
  if (!ref.startsWith('refs/tags/')) return false;
  const tag = ref.slice('refs/tags/'.length);
  return context.repository.releases.some((r) => r.immutable && r.tagName === tag);
}

/** git check-ref-format, the rules a ref name sent to GitHub can break. */
export function validRefName(ref: string): boolean {
  const control = [...ref].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  return (
    !control &&
    /^refs\/[^/]+\/./.test(ref) &&
    !/[\s~^:?*[\\]|\.\.|@\{|\/\/|\/$|\.$|\.lock$|\/\./.test(ref)
  );
}

/** A branch, a tag or a full SHA, as GitHub resolves `target_commitish` or a deployment's `ref`. */
export function resolveCommitish(repository: RepositoryState, value: string): string | undefined {
  for (const ref of [value, `refs/heads/${value}`, `refs/tags/${value}`]) {
    const sha = repository.refs.get(ref);
    if (sha) return peel(repository, sha);
  }
  return /^[0-9a-f]{40}$/.test(value) ? value : undefined;
}

const createTag: RestHandler = (context) => {
  const { repository, world } = context;
  const body = context.body as { tag: string; message: string; object: string; type: string };
  writer(context);
  if (body.type !== 'commit' || !/^[0-9a-f]{40}$/.test(body.object)) {
    throw new HttpError(422, 'Object does not exist');
  }
  if (!validRefName(`refs/tags/${body.tag}`)) throw new HttpError(422, 'Invalid tag name');
  const tagger = {
    name: 'github-actions[bot]',
    email: 'github-actions[bot]@users.noreply.github.com',
    date: world.state.now(),
  };
  const text = `object ${body.object}\ntype commit\ntag ${body.tag}\ntagger ${tagger.name} <${tagger.email}> ${tagger.date}\n\n${body.message}`;
  const sha = createHash('sha1')
    .update(`tag ${Buffer.byteLength(text)}\0${text}`)
    .digest('hex');
  const tag = { sha, tag: body.tag, message: body.message, object: body.object, tagger };
  repository.tagObjects.set(sha, tag);
  const json = tagObjectJson(world, repository, tag);
  return { status: 201, body: json, headers: { location: json.url } };
};

const createRef: RestHandler = (context) => {
  const { repository } = context;
  const body = context.body as { ref: string; sha: string };
  if (!validRefName(body.ref)) throw new HttpError(422, `${body.ref} is not a valid ref name.`);
  if (!/^[0-9a-f]{40}$/.test(body.sha)) throw new HttpError(422, 'Object does not exist');
  if (repository.refs.has(body.ref)) throw new HttpError(422, 'Reference already exists');
  if (touchesWorkflows(repository, context.actor, body.sha)) {
    throw new HttpError(403, WORKFLOW_REFUSAL);
  }
  const refused = creationRefused(repository, body.ref);
  if (refused) throw ruleViolation(refused);
  repository.refs.set(body.ref, body.sha);
  const json = refJson(context.world, repository, body.ref, body.sha);
  return { status: 201, body: json, headers: { location: json.url } };
};

export const gitRoutes: Record<string, RestHandler> = {
  'git/get-ref': (context) => {
    const ref = fullRef(context);
    const sha = context.repository.refs.get(ref);
    if (!sha) throw new HttpError(404, 'Not Found');
    return { status: 200, body: refJson(context.world, context.repository, ref, sha) };
  },

  // Every matching ref at once: GitHub ignores per_page and page here and sends no Link header.
  'git/list-matching-refs': (context) => {
    const prefix = fullRef(context);
    const refs = [...context.repository.refs]
      .filter(([ref]) => ref.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      status: 200,
      body: refs.map(([ref, sha]) => refJson(context.world, context.repository, ref, sha)),
    };
  },

  'git/create-ref': createRef,

  'git/delete-ref': (context) => {
    const ref = fullRef(context);
    if (!context.repository.refs.has(ref)) throw new HttpError(422, 'Reference does not exist');
    if (locked(context, ref)) {
      throw new HttpError(422, 'Cannot delete a tag that belongs to an immutable release.');
    }
    const refused = deletionRefused(context.repository, ref);
    if (refused) throw ruleViolation(refused);
    context.repository.refs.delete(ref);
    return { status: 204 };
  },

  'git/create-tag': createTag,

  'git/get-tag': (context) => {
    const tag = context.repository.tagObjects.get(String(context.params.tag_sha));
    if (!tag) throw new HttpError(404, 'Not Found');
    return { status: 200, body: tagObjectJson(context.world, context.repository, tag) };
  },
};
