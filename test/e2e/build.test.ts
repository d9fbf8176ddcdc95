import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitHub, type GitHubEmulator } from '../emulator/index.js';
import {
  CLIENT_CHATTER,
  runAction,
  uniqueName,
  ungroupedLines,
  type ActionRun,
} from '../helpers/action.js';

let github: GitHubEmulator;

beforeAll(async () => {
  github = await startGitHub();
});

afterAll(async () => {
  await github?.stop();
});

const COMMIT_TIME = '1700000000';

/** A small app checked out in a fresh workspace. */
async function workspace(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'brr-ws-'));
  const tree: Record<string, string> = {
    'src/server.js': 'console.log("hello")\n',
    'src/lib/util.js': 'export const x = 1;\n',
    'package.json': '{"name":"shop"}\n',
    'README.md': 'not packed\n',
    ...files,
  };
  for (const [name, content] of Object.entries(tree)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

interface BuildOptions {
  repository: string;
  inputs: Record<string, string>;
  workspace: string;
  sha?: string;
  runId?: number;
}

async function build(options: BuildOptions): Promise<ActionRun> {
  const env = github.runnerEnv({ repository: options.repository, runId: options.runId });
  return runAction({
    action: 'build-action',
    inputs: options.inputs,
    workspace: options.workspace,
    env: {
      ...env,
      ...(options.sha ? { GITHUB_SHA: options.sha } : {}),
      SOURCE_DATE_EPOCH: COMMIT_TIME,
      // One runner machine per repository: HOME stays put across its runs, as on GitHub's runners.
      HOME: homes.get(options.repository),
    },
  });
}

const homes = new Map<string, string>();

function newRepository(): string {
  const name = `acme/${uniqueName('shop')}`;
  github.createRepository(name);
  homes.set(name, path.join(tmpdir(), uniqueName('brr-home')));
  return name;
}

const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);

describe('build-action', () => {
  it('runs the command, packs the paths and uploads the bundle as is, named by app and SHA', async () => {
    const repository = newRepository();
    const ws = await workspace();
    const run = await build({
      repository,
      workspace: ws,
      sha: SHA_A,
      inputs: {
        app: 'shop',
        command: 'mkdir -p dist && echo built > dist/out.txt && echo "build log line"',
        path: 'src\npackage.json\ndist/*.txt',
      },
    });
    expect(run.errors).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.log).toContain('build log line');
    const { outputs } = run;
    expect(outputs['build-id']).toBe(`shop@${SHA_A}`);
    expect(outputs.sha).toBe(SHA_A);
    expect(outputs['artifact-name']).toBe(`shop-${SHA_A}.tar.zst`);
    expect(outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(outputs.files).toBe('4');
    expect(outputs['cache-hit']).toBe('false');

    const artifacts = github.state.repository(repository).artifacts;
    const bundle = artifacts.find((a) => a.name === outputs['artifact-name']);
    expect(bundle).toMatchObject({ id: Number(outputs['artifact-id']), finalized: true });
    expect(bundle?.size).toBe(Number(outputs.size));
    // No second compression: the artifact's digest is the bundle's own.
    expect(bundle?.digest).toBe(outputs.digest);
    expect(artifacts.map((a) => a.name)).toContain(`shop-${SHA_A}.build.json`);

    expect(run.summary).toContain(`Build shop @ \`${SHA_A.slice(0, 7)}\``);
    expect(run.summary).toContain(outputs.digest);
    expect(run.summary).toContain('miss: built and packed');
    expect(run.summary).toMatch(/`dist` `package.json` `src`/);
  });

  it('packs the same commit to the same digest, and a one-byte change to another', async () => {
    const repository = newRepository();
    const inputs = { app: 'shop', path: 'src\npackage.json', cache: 'false' };
    const first = await build({ repository, workspace: await workspace(), sha: SHA_A, inputs });
    const ws = await workspace();
    await chmod(path.join(ws, 'src/server.js'), 0o600);
    const second = await build({ repository, workspace: ws, sha: SHA_A, inputs });
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(second.outputs.digest).toBe(first.outputs.digest);

    const changed = await workspace({ 'src/server.js': 'console.log("hellO")\n' });
    const third = await build({ repository, workspace: changed, sha: SHA_A, inputs });
    expect(third.code).toBe(0);
    expect(third.outputs.digest).not.toBe(first.outputs.digest);
  });

  it('builds once: a later run of the same SHA restores from the cache and skips the command', async () => {
    const repository = newRepository();
    const home = await mkdtemp(path.join(tmpdir(), 'brr-marker-'));
    const marker = path.join(home, 'command-ran');
    const inputs = {
      app: 'shop',
      path: 'src',
      command: `echo ran >> ${marker}`,
    };
    const first = await build({ repository, workspace: await workspace(), sha: SHA_A, inputs });
    expect(first.code).toBe(0);
    expect(first.outputs['cache-hit']).toBe('false');
    expect(await readFile(marker, 'utf8')).toBe('ran\n');

    const second = await build({ repository, workspace: await workspace(), sha: SHA_A, inputs });
    expect(second.errors).toEqual([]);
    expect(second.outputs['cache-hit']).toBe('true');
    expect(second.outputs.digest).toBe(first.outputs.digest);
    expect(await readFile(marker, 'utf8')).toBe('ran\n');
    expect(second.summary).toContain('hit (');
    // The artifact and cache clients' lines are folded into groups of their own.
    for (const run of [first, second]) {
      expect(run.log).toMatch(CLIENT_CHATTER);
      expect(ungroupedLines(run.log).filter((line) => CLIENT_CHATTER.test(line))).toEqual([]);
    }

    const other = await build({ repository, workspace: await workspace(), sha: SHA_B, inputs });
    expect(other.outputs['cache-hit']).toBe('false');
    expect(await readFile(marker, 'utf8')).toBe('ran\nran\n');
  });

  it('records the build facts beside the bundle for later runs', async () => {
    const repository = newRepository();
    const run = await build({
      repository,
      workspace: await workspace(),
      sha: SHA_A,
      runId: 4242,
      inputs: { app: 'shop', path: 'src', compression: 'gzip' },
    });
    expect(run.code).toBe(0);
    expect(run.outputs['artifact-name']).toBe(`shop-${SHA_A}.tar.gz`);
    const env = github.runnerEnv({ repository });
    const response = await fetch(
      `${env.GITHUB_API_URL}/repos/${repository}/actions/artifacts?name=shop-${SHA_A}.build.json`,
      { headers: { authorization: `Bearer ${env.GITHUB_TOKEN}` } },
    );
    const listed = (await response.json()) as {
      artifacts: { id: number; workflow_run: { id: number } }[];
    };
    expect(listed.artifacts).toHaveLength(1);
    expect(listed.artifacts[0]?.workflow_run.id).toBe(4242);
    const zip = await fetch(
      `${env.GITHUB_API_URL}/repos/${repository}/actions/artifacts/${listed.artifacts[0]?.id}/zip`,
      { headers: { authorization: `Bearer ${env.GITHUB_TOKEN}` } },
    );
    const facts = (await zip.json()) as Record<string, unknown>;
    expect(facts).toMatchObject({
      app: 'shop',
      sha: SHA_A,
      runId: 4242,
      digest: run.outputs.digest,
      size: Number(run.outputs.size),
      files: 2,
      compression: 'gzip',
      artifact: { id: Number(run.outputs['artifact-id']), name: `shop-${SHA_A}.tar.gz` },
    });
  });
});

describe('build-action refuses bad input with one line and uploads nothing', () => {
  const cases: [string, Record<string, string>, (ws: string) => Promise<void>, RegExp][] = [
    [
      'a path matching nothing',
      { path: 'missing/*.js' },
      async () => {},
      /^Input 'path': "missing\/\*\.js": matches nothing$/,
    ],
    [
      'a path outside the workspace',
      { path: '../elsewhere' },
      async () => {},
      /^Input 'path': "\.\.\/elsewhere": contains '\.\.'; expected a path inside the root$/,
    ],
    [
      'a failing command',
      { path: 'src', command: 'echo compiling; echo "error: type mismatch" >&2; exit 3' },
      async () => {},
      /^Input 'command': failed with exit code 3; got compiling \| error: type mismatch$/,
    ],
    [
      'a symlink pointing outside',
      { path: 'src' },
      async (ws) => symlink('/etc/passwd', path.join(ws, 'src/passwd')),
      /^Input 'path': symlink "src\/passwd": points to an absolute path; expected a relative target inside the bundle, got "\/etc\/passwd"$/,
    ],
    [
      'a symlink climbing out of the bundle',
      { path: 'src' },
      async (ws) => symlink('../../../outside', path.join(ws, 'src/lib/up')),
      /^Input 'path': symlink "src\/lib\/up": points outside the bundle; got "(\.\.\/){3}outside"$/,
    ],
    [
      'a fifo among the paths',
      { path: 'src' },
      (ws) => {
        execFileSync('mkfifo', [path.join(ws, 'src/pipe')]);
        return Promise.resolve();
      },
      /^Input 'path': entry "src\/pipe": is a fifo; a bundle holds only files, directories and symlinks$/,
    ],
    [
      'a name that is not UTF-8',
      { path: 'src' },
      async (ws) => writeFile(Buffer.from(`${ws}/src/caf\xe9.js`, 'latin1'), 'x'),
      /^Input 'path': entry "src\/caf\\xe9\.js": has a name that is not valid UTF-8; /,
    ],
    [
      'directories with nothing in them',
      { path: 'empty' },
      async (ws) => mkdir(path.join(ws, 'empty/nested'), { recursive: true }).then(() => {}),
      /^Input 'path': the bundle: is empty; expected at least one file or symlink$/,
    ],
    [
      'a working directory that does not exist',
      { path: 'src', command: 'touch ran', 'working-directory': 'build' },
      async () => {},
      /^Input 'working-directory': does not exist in the workspace; got "build"$/,
    ],
    [
      'a working directory that is a file',
      { path: 'src', command: 'touch ran', 'working-directory': 'package.json' },
      async () => {},
      /^Input 'working-directory': is not a directory; got "package.json"$/,
    ],
    [
      'a working directory reached through a symlink to outside the workspace',
      { path: '.', command: 'touch ran', 'working-directory': 'elsewhere' },
      async (ws) => {
        const outside = await mkdtemp(path.join(tmpdir(), 'brr-outside-'));
        await writeFile(path.join(outside, 'secret.txt'), 'not yours\n');
        await symlink(outside, path.join(ws, 'elsewhere'));
      },
      /^Input 'working-directory': leads outside the workspace through a symlink, to \/.*brr-outside-[^/]+; got "elsewhere"$/,
    ],
    [
      'a bad app name',
      { path: 'src', app: 'my app' },
      async () => {},
      /^Input 'app': expected an app name/,
    ],
    [
      'an unknown compression',
      { path: 'src', compression: 'xz' },
      async () => {},
      /^Input 'compression': expected one of zstd\|gzip/,
    ],
  ];
  for (const [what, inputs, prepare, message] of cases) {
    it(what, async () => {
      const repository = newRepository();
      const ws = await workspace();
      await prepare(ws);
      const run = await build({
        repository,
        workspace: ws,
        sha: SHA_A,
        inputs: { cache: 'false', ...inputs },
      });
      expect(run.code).toBe(1);
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]).toMatch(message);
      expect(run.errors[0]).not.toContain('\n');
      expect(github.state.repository(repository).artifacts).toEqual([]);
      // Only a command that did run can fail; nothing runs in a working directory refused.
      expect(run.log.includes('Running the build command')).toBe(what === 'a failing command');
    });
  }
});

describe('no leftovers', () => {
  it('removes its scratch directory', async () => {
    const repository = newRepository();
    const ws = await workspace();
    const run = await build({
      repository,
      workspace: ws,
      sha: SHA_A,
      inputs: { app: 'shop', path: 'src' },
    });
    expect(run.code).toBe(0);
    const home = homes.get(repository) ?? '';
    expect(existsSync(path.join(home, '.cache', 'build-release-run', `shop-${SHA_A}`))).toBe(false);
    expect(execFileSync('ls', [ws]).toString().split('\n').filter(Boolean).sort()).toEqual([
      'README.md',
      'package.json',
      'src',
    ]);
  });
});
