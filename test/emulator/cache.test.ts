import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GitHubEmulator, RunnerOptions } from './index.js';
import { useGitHub } from './vitest.js';

/** The real @actions/cache client (service v2), in this process, reading the runner's variables. */

type CacheModule = typeof import('@actions/cache');

const emulator = useGitHub();
let github: GitHubEmulator;
let cache: CacheModule;
let workspace: string;

beforeAll(async () => {
  github = emulator();
  github.createRepository('acme/cache');
  workspace = await mkdtemp(path.join(tmpdir(), 'brr-cache-'));
  cache = await import('@actions/cache');
});

function enterJob(options: RunnerOptions = {}): void {
  const env = github.runnerEnv({ repository: 'acme/cache', ...options });
  Object.assign(process.env, env, { GITHUB_WORKSPACE: workspace, RUNNER_TEMP: workspace });
}

/** Writes `text` into a fresh directory and returns its path, the one path cached. */
async function content(dir: string, text: string): Promise<string> {
  const root = path.join(workspace, dir);
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  await writeFile(path.join(root, 'file.txt'), text);
  return root;
}

async function restored(root: string): Promise<string | undefined> {
  return readFile(path.join(root, 'file.txt'), 'utf8').catch(() => undefined);
}

describe('@actions/cache against the emulator', () => {
  it('saves and restores by exact key', async () => {
    enterJob();
    const root = await content('exact', 'built');
    const id = await cache.saveCache([root], 'build-abc');
    expect(id).toBeGreaterThan(0);
    await rm(root, { recursive: true });
    expect(await cache.restoreCache([root], 'build-abc')).toBe('build-abc');
    expect(await restored(root)).toBe('built');
    expect(github.state.repository('acme/cache').caches).toMatchObject([
      { key: 'build-abc', scope: 'refs/heads/main', finalized: true },
    ]);
  });

  it('falls back to the newest entry matching a restore-key prefix, then the key as a prefix', async () => {
    enterJob();
    const root = await content('deps', 'old');
    await cache.saveCache([root], 'deps-linux-aaa');
    await content('deps', 'new');
    await cache.saveCache([root], 'deps-linux-bbb');
    await content('deps', 'other');
    await cache.saveCache([root], 'deps-mac-ccc');
    await rm(root, { recursive: true });

    expect(await cache.restoreCache([root], 'deps-linux-zzz', ['deps-win-', 'deps-linux-'])).toBe(
      'deps-linux-bbb',
    );
    expect(await restored(root)).toBe('new');
    expect(await cache.restoreCache([root], 'deps-mac')).toBe('deps-mac-ccc');
    expect(await cache.restoreCache([root], 'deps-linux-aaa', ['deps-'])).toBe('deps-linux-aaa');
  });

  it('misses on another key or another path list (version), and keeps a saved entry', async () => {
    enterJob();
    const root = await content('miss', 'x');
    await cache.saveCache([root], 'miss-1');
    expect(await cache.restoreCache([root], 'other', ['nothing-'])).toBeUndefined();
    expect(await cache.restoreCache([root, `${root}-too`], 'miss-1')).toBeUndefined();
    expect(await cache.saveCache([root], 'miss-1')).toBe(-1);
    expect(
      github.state.repository('acme/cache').caches.filter((c) => c.key === 'miss-1'),
    ).toHaveLength(1);
  });

  it('scopes entries by ref: a branch reads the default branch, not the other way round', async () => {
    enterJob({ ref: 'refs/heads/feature' });
    const root = await content('scoped', 'feature');
    await cache.saveCache([root], 'scoped-feature');
    enterJob();
    await content('scoped', 'main');
    await cache.saveCache([root], 'scoped-main');
    await rm(root, { recursive: true });

    expect(await cache.restoreCache([root], 'scoped-feature')).toBeUndefined();
    enterJob({ ref: 'refs/heads/feature' });
    expect(await cache.restoreCache([root], 'scoped-main')).toBe('scoped-main');
    expect(await restored(root)).toBe('main');
  });
});
