import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import { runAction, uniqueName, type ActionRun } from '../helpers/action.js';
import {
  appTree,
  makeKeys,
  pack,
  publishRelease,
  type PackedBundle,
  type PublishedRelease,
  type ReleaseKeys,
} from '../helpers/releases.js';
import { startHost, type TestHost } from '../hosts/sshd.js';

/*
 * The transfer through run-action's built dist, as a workflow runs it: a release built from the
 * one on the host is the bundle unpacked in full, only what the host lacks goes on the wire,
 * and the `bytes-sent` output says how much went to each host.
 */

const emulator = useGitHub();
const MiB = 1024 * 1024;

let host: TestHost;
let keys: ReleaseKeys;

beforeAll(async () => {
  [host, keys] = await Promise.all([startHost(), makeKeys()]);
});
afterAll(async () => {
  await host?.stop();
});

describe('run-action sends each host only what it lacks', () => {
  it('builds a release from the one before: the bundle unpacked in full, the rest linked', async () => {
    const repository = `acme/${uniqueName('transfer')}`;
    emulator().createRepository(repository);
    const root = path.join(host.root, uniqueName('transfer'));
    const big = randomBytes(2 * MiB);
    const bundleOf = async (version: string, sha: string) =>
      pack(await appTree({ 'lib/big.bin': big, VERSION: `${version}\n` }), 'shop', sha);
    const published: PublishedRelease[] = [];
    const deploy = async (bundle: PackedBundle | undefined, releaseId?: string) => {
      if (bundle) {
        const id = `v${published.length + 1}`;
        const previous = published.at(-1);
        published.push(
          await publishRelease(emulator(), {
            repository,
            app: 'shop',
            environment: 'production',
            keys,
            id,
            sha: id.slice(1).repeat(40),
            bundle,
            vars: { GREETING: id },
            ...(previous ? { previous } : {}),
          }),
        );
      }
      const run = await runAction({
        action: 'run-action',
        env: emulator().runnerEnv({ repository }),
        inputs: {
          environment: 'production',
          app: 'shop',
          hosts: host.hostLine,
          path: root,
          'ssh-key': host.privateKey,
          'known-hosts': host.knownHosts,
          'allowed-signers': keys.allowedSigners,
          identity: keys.identity,
          ...(releaseId ? { 'release-id': releaseId } : {}),
        },
      });
      expect(run.errors, run.log).toEqual([]);
      return run;
    };
    const sent = (run: ActionRun) =>
      (JSON.parse(run.outputs['bytes-sent'] ?? '{}') as Record<string, number>)[host.hostLine];

    const v1Bundle = await bundleOf('one', '1'.repeat(40));
    const first = await deploy(v1Bundle);
    expect(sent(first)).toBeGreaterThan(2 * MiB);

    const v2Bundle = await bundleOf('two', '2'.repeat(40));
    const second = await deploy(v2Bundle);
    expect(sent(second)).toBeLessThan(64 * 1024);
    const releases = path.join(root, 'releases');
    expect(tree(path.join(releases, 'v2'))).toBe(await bundleTree(v2Bundle));
    expect(await inode(releases, 'v2', 'lib/big.bin')).toBe(
      await inode(releases, 'v1', 'lib/big.bin'),
    );

    // A file of the release on the host rewritten in place, its size and mtime as before.
    const edited = path.join(releases, 'v2/lib/big.bin');
    const before = await stat(edited);
    const bytes = await readFile(edited);
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    await writeFile(edited, bytes);
    await utimes(edited, before.atime, before.mtime);
    const third = await deploy(await bundleOf('two', '3'.repeat(40)));
    expect(sent(third)).toBeGreaterThan(2 * MiB);
    expect((await readFile(path.join(releases, 'v3/lib/big.bin'))).equals(big)).toBe(true);
    expect(tree(path.join(releases, 'v3'))).toBe(await bundleTree(v2Bundle));

    // Back to a release the host has: nothing on the wire.
    const back = await deploy(undefined, 'previous');
    expect(back.outputs['release-id']).toBe('v2');
    expect(JSON.parse(back.outputs['bytes-sent'] ?? '')).toEqual({ [host.hostLine]: 0 });
  });
});

async function inode(releases: string, id: string, name: string): Promise<number> {
  return (await stat(path.join(releases, id, name))).ino;
}

/** The tree of the bundle unpacked by the host's own tools, with nothing of ours. */
async function bundleTree(bundle: PackedBundle): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'brr-unpacked-'));
  try {
    execFileSync('sh', ['-c', 'zstd -q -d -c "$1" | tar -xf - -C "$2"', 'sh', bundle.file, dir]);
    return tree(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Kinds, modes, sizes, link targets and digests under a release, but the release's own files. */
function tree(root: string): string {
  const own = '\\( -path ./.release -o -path ./.env \\) -prune';
  const script = `cd "$1" && find . -mindepth 1 ${own} -o -printf "%p %y %m %s %l\\n" | LC_ALL=C sort && find . ${own} -o -type f -exec sha256sum {} + | LC_ALL=C sort`;
  return execFileSync('sh', ['-c', script, 'sh', root], { encoding: 'utf8' });
}
