import type { RepositoryState } from '../state.js';
import { HttpError } from '../world.js';
import { paginate, refJson } from './render.js';
import type { RestContext, RestHandler } from './server.js';

/** Git references: branches and tags, each a name pointing at a commit SHA. */

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
    if (sha) return sha;
  }
  return /^[0-9a-f]{40}$/.test(value) ? value : undefined;
}

export const gitRoutes: Record<string, RestHandler> = {
  'git/get-ref': (context) => {
    const ref = fullRef(context);
    const sha = context.repository.refs.get(ref);
    if (!sha) throw new HttpError(404, 'Not Found');
    return { status: 200, body: refJson(context.world, context.repository, ref, sha) };
  },

  'git/list-matching-refs': (context) => {
    const prefix = fullRef(context);
    const refs = [...context.repository.refs]
      .filter(([ref]) => ref.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const page = paginate(context, refs);
    return {
      status: 200,
      body: page.items.map(([ref, sha]) => refJson(context.world, context.repository, ref, sha)),
      headers: page.headers,
    };
  },

  'git/create-ref': (context) => {
    const body = context.body as { ref: string; sha: string };
    if (!validRefName(body.ref)) throw new HttpError(422, `${body.ref} is not a valid ref name.`);
    if (!/^[0-9a-f]{40}$/.test(body.sha)) throw new HttpError(422, 'Object does not exist');
    if (context.repository.refs.has(body.ref)) {
      throw new HttpError(422, 'Reference already exists');
    }
    context.repository.refs.set(body.ref, body.sha);
    const json = refJson(context.world, context.repository, body.ref, body.sha);
    return { status: 201, body: json, headers: { location: json.url } };
  },

  'git/delete-ref': (context) => {
    const ref = fullRef(context);
    if (!context.repository.refs.has(ref)) throw new HttpError(422, 'Reference does not exist');
    if (locked(context, ref)) {
      throw new HttpError(422, 'Cannot delete a tag that belongs to an immutable release.');
    }
    context.repository.refs.delete(ref);
    return { status: 204 };
  },
};
