import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigurationError, foldedTail, type Repository } from './core.js';

const run = promisify(execFile);

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const NAME = /^[A-Za-z0-9._-]{1,100}$/;

/** `owner/name`, as `--repo` takes it. */
export function parseRepository(text: string): Repository | undefined {
  const [owner, repo, ...rest] = text.split('/');
  if (owner === undefined || repo === undefined || rest.length > 0) return undefined;
  if (!OWNER.test(owner) || !NAME.test(repo) || repo === '.' || repo === '..') return undefined;
  return { owner, repo };
}

/**
 * The repository a git remote URL names, in the forms git and GitHub use:
 * `https://github.com/o/r(.git)`, `git@github.com:o/r(.git)` and `ssh://git@github.com/o/r`.
 * The host is not checked: GitHub Enterprise Cloud has its own.
 */
export function repositoryFromRemote(url: string): Repository | undefined {
  const trimmed = url.trim();
  let path: string | undefined;
  const scpLike = /^[^/@:]+@[^/:]+:(?!\/)(.+)$/.exec(trimmed);
  if (scpLike) {
    path = scpLike[1];
  } else {
    try {
      const parsed = new URL(trimmed);
      if (['https:', 'http:', 'ssh:', 'git:'].includes(parsed.protocol)) path = parsed.pathname;
    } catch {
      return undefined;
    }
  }
  if (path === undefined) return undefined;
  const bare = path
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  return parseRepository(bare);
}

/** The repository of `origin` in `cwd`: what `--repo` defaults to. */
export async function originRepository(cwd: string): Promise<Repository> {
  let url: string;
  try {
    ({ stdout: url } = await run('git', ['remote', 'get-url', 'origin'], { cwd, timeout: 10_000 }));
  } catch (error) {
    const said = (error as { stderr?: unknown }).stderr;
    throw new ConfigurationError({
      input: '--repo',
      problem: 'not given, and the current directory has no git remote origin to take it from',
      ...(typeof said === 'string' && said.trim() !== '' ? { got: foldedTail(said) } : {}),
      hint: 'pass --repo owner/name',
    });
  }
  const repository = repositoryFromRemote(url);
  if (!repository) {
    // The URL itself is not shown: an https remote can carry a token.
    throw new ConfigurationError({
      input: '--repo',
      problem:
        "not given, and the git remote origin does not name a GitHub repository's owner/name",
      hint: 'pass --repo owner/name',
    });
  }
  return repository;
}
