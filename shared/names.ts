import { z } from 'zod';
import { ConfigurationError, quoted } from './errors.js';
import { addInputIssue } from './inputs.js';

/**
 * Names that end up in tags, paths and shell commands. Each pattern is strict enough that a
 * value which passes it can never be read as an option, a path escape or shell syntax.
 */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function safeName(what: string, max: number, example: string, reserved?: ReservedNames) {
  const expected = `${what}: letters, digits, '.', '_' or '-', starting with a letter or digit (like ${example})`;
  return z.string().superRefine((value, ctx) => {
    if (value.length > max) {
      addInputIssue(ctx, {
        expected: `${what} of at most ${max} characters`,
        got: `${value.length} characters`,
      });
    } else if (!SAFE_NAME.test(value) || value.includes('..') || value.endsWith('.lock')) {
      addInputIssue(ctx, { expected, got: quoted(value) });
    } else if (reserved?.test(value)) {
      addInputIssue(ctx, { expected: `${what} ${reserved.rule}`, got: quoted(value) });
    }
  });
}

interface ReservedNames {
  test: (value: string) => boolean;
  /** What the rule allows, in words: follows the name of the thing ("a release ID …"). */
  rule: string;
}

export const appName = safeName('an app name', 100, 'my-app');
export const environmentName = safeName('an environment name', 64, 'production or pr-12');

const NUMBERED_ID = /^v[1-9][0-9]{0,8}$/;

/** A full commit SHA, lower-case hex: 40 digits (SHA-1) or 64 (a SHA-256 repository). */
export const COMMIT_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** A pull request's preview environment, `pr-<number>`: transient, and the one kind destroy may remove. */
export function isPreviewEnvironment(environment: string): boolean {
  return /^pr-[1-9][0-9]*$/.test(environment);
}

/**
 * A release ID: `v<N>` as the ledger numbers them, or an explicit safe ID. Never `latest` or
 * `previous`, which select a release, nor a name ending in `.tmp`, which a host uses for a
 * release it is still receiving.
 */
export const releaseId = safeName('a release ID', 64, 'v12', {
  test: (value) => value === 'latest' || value === 'previous' || value.endsWith('.tmp'),
  rule: "other than 'latest' and 'previous' (they select a release), not ending in .tmp",
});

/** What run-action may be asked to deploy: `latest`, `previous` or a release ID. */
export const releaseSelector = z.string().superRefine((value, ctx) => {
  if (value === 'latest' || value === 'previous' || releaseId.safeParse(value).success) return;
  addInputIssue(ctx, {
    expected: 'latest, previous or a release ID (like v12)',
    got: quoted(value),
  });
});

export function releaseNumber(id: string): number | undefined {
  return NUMBERED_ID.test(id) ? Number(id.slice(1)) : undefined;
}

export function releaseTag(app: string, environment: string, id: string): string {
  return `${app}/${environment}/${id}`;
}

export type Host =
  | { kind: 'local'; label: 'local' }
  | { kind: 'ssh'; user: string; host: string; port: number; label: string };

const USER = '[a-z_][a-z0-9_.-]{0,31}';
const HOSTNAME =
  '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*';
const IPV6 = '\\[[0-9A-Fa-f:.]+\\]';
const HOST_LINE = new RegExp(`^(${USER})@(${HOSTNAME}|${IPV6})(?::([0-9]{1,5}))?$`);

/** One `hosts` line: `local`, or `user@host[:port]`. */
export function parseHost(line: string): Host | undefined {
  if (line === 'local') return { kind: 'local', label: 'local' };
  const match = HOST_LINE.exec(line);
  if (!match) return undefined;
  const [, user, host, portText] = match as unknown as [string, string, string, string | undefined];
  const port = portText === undefined ? 22 : Number(portText);
  if (port < 1 || port > 65535) return undefined;
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  return { kind: 'ssh', user, host: bare, port, label: line };
}

/** A bastion to reach SSH hosts through (`proxy-jump`): `user@host[:port]`, as `ssh -J` takes it. */
export const jumpHost = z.string().transform((value, ctx) => {
  const host = parseHost(value.trim());
  if (host?.kind === 'ssh') return host;
  ctx.addIssue({
    code: 'custom',
    message: `expected user@bastion[:port], such as deploy@bastion.example.com, got ${JSON.stringify(value)}`,
  });
  return z.NEVER;
});

/** Quotes one argument for POSIX sh: single quotes, with embedded ones closed and escaped. */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** A config key: an environment variable name that shells, systemd and dotenv all accept. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The app name: the `app` input, or the repository's name when that is a safe name. */
export function resolveApp(input: string | undefined, context: { repo: string }): string {
  if (input !== undefined) return input;
  const parsed = appName.safeParse(context.repo);
  if (!parsed.success) {
    throw new ConfigurationError({
      input: 'app',
      problem: 'is empty, and the repository name is not a usable app name',
      got: quoted(context.repo),
      hint: "set 'app'",
    });
  }
  return parsed.data;
}
