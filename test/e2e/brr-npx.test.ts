import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import { ROOT } from '../helpers/action.js';
import { emptyGhConfig, emulatorEnv, standardLedger } from '../helpers/brr.js';

/*
 * brr as an operator gets it from the repository: `npx --yes <git spec> <command>`, npm's git
 * install of this package.json and the committed cli/dist. Offline: the install must fetch no
 * package, so it needs no registry and takes seconds. A lifecycle script npm runs on git installs
 * (`build`, `prepare`, …) or a runtime dependency would make it fail here.
 */

const run = promisify(execFile);
const emulator = useGitHub();
let spec: string;

beforeAll(async () => {
  const clone = path.join(await mkdtemp(path.join(tmpdir(), 'brr-npx-')), 'build-release-run');
  await run('git', ['clone', '-q', '--depth', '1', `file://${ROOT}`, clone]);
  // This checkout's package.json and bundle, as the next commit would hold them.
  await cp(path.join(ROOT, 'package.json'), path.join(clone, 'package.json'));
  await rm(path.join(clone, 'cli', 'dist'), { recursive: true, force: true });
  await cp(path.join(ROOT, 'cli', 'dist'), path.join(clone, 'cli', 'dist'), { recursive: true });
  const git = ['-C', clone, '-c', 'user.name=brr', '-c', 'user.email=brr@example.com'];
  await run('git', [...git, 'add', '-A']);
  await run('git', [...git, 'commit', '-q', '--allow-empty', '-m', 'this checkout']);
  spec = `git+file://${clone}`;
});

async function npx(args: string[], env: Record<string, string> = {}) {
  const cache = await mkdtemp(path.join(tmpdir(), 'brr-npm-cache-'));
  const { stdout } = await run('npx', ['--yes', spec, ...args], {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? tmpdir(),
      GH_CONFIG_DIR: await emptyGhConfig(),
      npm_config_cache: cache,
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
      ...env,
    },
  });
  return stdout;
}

describe('npx --yes <this repository> <command>', () => {
  it('installs nothing from a registry and runs brr', async () => {
    expect(await npx(['--help'])).toMatch(/^Usage: brr \[options\] \[command\]/);
    const ledger = await standardLedger(emulator());
    const listed = await npx(
      ['releases', 'production', '--repo', ledger.repository, '--json'],
      emulatorEnv(emulator()),
    );
    const ids = (JSON.parse(listed) as { releases: { id: string }[] }).releases.map((r) => r.id);
    expect(ids).toEqual(['v3', 'v2', 'v1']);
  });
});
