// Bundles each action's entry with ncc into its dist/. `--out DIR` writes under DIR instead
// (check-dist builds there and compares); `--only build-action,run-action` builds just those.
import ncc from '@vercel/ncc';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const ACTIONS = ['.', 'build-action', 'release-action', 'run-action', 'cli'];

const root = path.resolve(import.meta.dirname, '..');

export async function buildAll(outRoot = root, only = ACTIONS) {
  for (const action of only) {
    const entry = path.join(root, action === '.' ? 'src' : `${action}/src`, 'index.ts');
    const dist = path.join(outRoot, action, 'dist');
    const { code, assets } = await ncc(entry, {
      minify: false,
      sourceMap: false,
      license: 'licenses.txt',
      quiet: true,
      target: 'es2022',
      // ssh2's optional native speed-ups: without them it runs on pure JavaScript, so the bundle
      // is the same on every machine.
      externals: ['cpu-features', './crypto/build/Release/sshcrypto.node'],
    });
    await rm(dist, { recursive: true, force: true });
    await mkdir(dist, { recursive: true });
    // brr's bundle is run by name (`node cli/dist/brr.mjs`, package.json's bin).
    await writeFile(path.join(dist, action === 'cli' ? 'brr.mjs' : 'index.js'), code);
    for (const [name, asset] of Object.entries(assets)) {
      // ssh2's helper for Windows' Pageant agent: this project never uses an SSH agent.
      if (name === 'pagent.exe') continue;
      await mkdir(path.dirname(path.join(dist, name)), { recursive: true });
      await writeFile(path.join(dist, name), asset.source);
    }
    console.log(
      `${action}/dist: ${Math.round(code.length / 1024)} KiB, ${Object.keys(assets).length} assets`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const option = (name) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? process.argv[at + 1] : undefined;
  };
  const out = option('--out');
  const only = option('--only');
  await buildAll(out ? path.resolve(out) : root, only ? only.split(',') : ACTIONS);
}
