import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/action.js';

/*
 * The `gh api` forms of docs/keys.md, for a gh without `gh variable` (Debian 12 has 2.23). gh is
 * not on the test machines and GitHub is not reachable, so this checks what can be checked here:
 * bash reads each block as a user's shell would, a `gh` function records the arguments and stdin
 * gh would get, and each request must be one GitHub's REST reference documents, with its body's
 * fields and types. (Run by hand with gh 2.23 through a recording proxy, these blocks sent exactly
 * these requests.)
 */

const exec = promisify(execFile);

interface GhCall {
  args: string[];
  stdin: string;
}

interface Request {
  method: string;
  path: string;
  body: Record<string, unknown>;
}

const ENV = String.raw`repos/\{owner\}/\{repo\}/environments/[a-z]+`;

/** Endpoints of GitHub's REST reference the page uses, and the body fields each takes. */
const DOCUMENTED: { method: string; path: RegExp; fields: string[] }[] = [
  { method: 'GET', path: /^users\/[\w-]+$/, fields: [] },
  {
    method: 'GET',
    path: new RegExp(`^${ENV}(/deployment-branch-policies|/variables)?$`),
    fields: [],
  },
  {
    method: 'PUT',
    path: new RegExp(`^${ENV}$`),
    fields: ['wait_timer', 'prevent_self_review', 'reviewers', 'deployment_branch_policy'],
  },
  {
    method: 'POST',
    path: new RegExp(`^${ENV}/deployment-branch-policies$`),
    fields: ['name', 'type'],
  },
  { method: 'POST', path: new RegExp(`^${ENV}/variables$`), fields: ['name', 'value'] },
  { method: 'PATCH', path: new RegExp(`^${ENV}/variables/[A-Z_]+$`), fields: ['name', 'value'] },
];

/** gh api's reading of its arguments: the endpoint, -X/--method, -f (string), -F (typed), --input -. */
function requestOf(call: GhCall): Request {
  const [command, ...rest] = call.args;
  expect(command).toBe('api');
  let endpoint: string | undefined;
  let method: string | undefined;
  let body: Record<string, unknown> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (!arg.startsWith('-')) {
      endpoint = arg;
      continue;
    }
    const value = rest[++i] ?? '';
    if (arg === '--method' || arg === '-X') method = value;
    else if (arg === '-f' || arg === '-F') {
      const at = value.indexOf('=');
      const raw = value.slice(at + 1);
      const typed = /^(true|false|null|-?\d+)$/.test(raw) ? (JSON.parse(raw) as unknown) : raw;
      body[value.slice(0, at)] = arg === '-F' ? typed : raw;
    } else if (arg === '--input' && value === '-') {
      body = JSON.parse(call.stdin) as Record<string, unknown>;
    } else if (arg !== '--jq') throw new Error(`a gh api flag this check does not know: ${arg}`);
  }
  method ??= Object.keys(body).length > 0 ? 'POST' : 'GET';
  return { method, path: endpoint ?? '', body };
}

describe('docs/keys.md gh api forms', () => {
  let dir: string;
  let calls: GhCall[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'brr-gh-'));
    await writeFile(path.join(dir, 'allowed_signers'), 'release@acme ssh-ed25519 AAAA\nline two\n');
    const page = await readFile(path.join(ROOT, 'docs/keys.md'), 'utf8');
    const blocks = [...page.matchAll(/^```sh\n([\s\S]*?)^```$/gm)]
      .map((m) => m[1]!)
      .filter((code) => /^gh api /m.test(code));
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    // Each call: its arguments, NUL-separated, a record separator, then what it read on stdin.
    const recorder = `gh() { printf '%s\\0' "$@" >> calls; printf '\\036' >> calls; case " $* " in *" --input - "*) cat >> calls;; esac; printf '\\035' >> calls; }`;
    for (const code of blocks) {
      await exec('bash', ['-euo', 'pipefail', '-c', `${recorder}\n${code}`], { cwd: dir });
    }
    const recorded = await readFile(path.join(dir, 'calls'), 'utf8');
    calls = recorded
      .split('\x1d')
      .filter((entry) => entry !== '')
      .map((entry) => {
        const [args = '', stdin = ''] = entry.split('\x1e');
        return { args: args.split('\0').slice(0, -1), stdin };
      });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('every request is a documented endpoint with only its documented fields', () => {
    expect(calls.length).toBeGreaterThanOrEqual(9);
    for (const call of calls) {
      const request = requestOf(call);
      const endpoint = DOCUMENTED.find(
        (e) => e.method === request.method && e.path.test(request.path),
      );
      expect(endpoint, `${request.method} ${request.path}`).toBeDefined();
      expect(Object.keys(request.body).filter((f) => !endpoint!.fields.includes(f))).toEqual([]);
    }
  });

  it('the environments get a custom branch policy, main, and typed reviewers', () => {
    const requests = calls.map(requestOf);
    const puts = requests.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.path)).toEqual([
      'repos/{owner}/{repo}/environments/production',
      'repos/{owner}/{repo}/environments/staging',
    ]);
    for (const put of puts) {
      expect(put.body.deployment_branch_policy).toEqual({
        protected_branches: false,
        custom_branch_policies: true,
      });
    }
    expect(puts[0]!.body.reviewers).toEqual([{ type: 'User', id: expect.any(Number) as number }]);
    expect(puts[1]!.body.reviewers).toBeUndefined();
    const policies = requests.filter((r) => r.path.endsWith('/deployment-branch-policies'));
    expect(policies.filter((r) => r.method === 'POST').map((r) => r.body)).toEqual([
      { name: 'main', type: 'branch' },
      { name: 'main', type: 'branch' },
    ]);
  });

  it('a var is created with POST and changed with PATCH, its value the whole file', () => {
    const requests = calls.map(requestOf).filter((r) => r.path.includes('/variables'));
    const value = 'release@acme ssh-ed25519 AAAA\nline two';
    expect(requests.filter((r) => r.method !== 'GET')).toEqual([
      {
        method: 'POST',
        path: 'repos/{owner}/{repo}/environments/production/variables',
        body: { name: 'RELEASE_ALLOWED_SIGNERS', value },
      },
      {
        method: 'PATCH',
        path: 'repos/{owner}/{repo}/environments/production/variables/RELEASE_ALLOWED_SIGNERS',
        body: { value },
      },
    ]);
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

describe('links between the docs pages', () => {
  it('every page.md#anchor names a heading of that page', async () => {
    const docs = path.join(ROOT, 'docs');
    const pages = (await readdir(docs)).filter((name) => name.endsWith('.md'));
    const anchors = new Map<string, Set<string>>();
    const texts = new Map<string, string>();
    for (const page of pages) {
      const text = await readFile(path.join(docs, page), 'utf8');
      texts.set(page, text);
      const headings = [...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!));
      anchors.set(page, new Set(headings));
    }
    const broken: string[] = [];
    let checked = 0;
    for (const [page, text] of texts) {
      for (const [, target, anchor] of text.matchAll(/\]\(([\w-]*\.md)?#([^)\s]+)\)/g)) {
        checked++;
        const into = target ?? page;
        if (!anchors.get(into)?.has(anchor!)) broken.push(`${page} -> ${into}#${anchor}`);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(5);
    expect(broken).toEqual([]);
  });
});
