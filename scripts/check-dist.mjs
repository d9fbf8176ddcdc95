// Rebuilds every bundle from scratch into a temporary directory and fails when the committed
// dist/ differs: GitHub runs dist/ straight from the repository, so a stale one ships old code.
// A dist/ holds index.js and the chunks ncc splits off at each dynamic import() (`<id>.index.js`):
// every file on either side is compared, so a chunk missing, or left over from an older build,
// is stale too.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ACTIONS, buildAll } from './build.mjs';

const root = path.resolve(import.meta.dirname, '..');

async function listFiles(dir, prefix = '') {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const files = [];
  for (const entry of entries) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path.join(dir, entry.name), rel)));
    else files.push(rel);
  }
  return files.sort();
}

const out = await mkdtemp(path.join(tmpdir(), 'check-dist-'));
try {
  await buildAll(out);
  const stale = [];
  for (const action of ACTIONS) {
    const fresh = path.join(out, action, 'dist');
    const committed = path.join(root, action, 'dist');
    const names = new Set([...(await listFiles(fresh)), ...(await listFiles(committed))]);
    for (const name of names) {
      const a = await readFile(path.join(fresh, name)).catch(() => undefined);
      const b = await readFile(path.join(committed, name)).catch(() => undefined);
      if (!a || !b || !a.equals(b)) stale.push(path.join(action, 'dist', name));
    }
  }
  if (stale.length) {
    console.error(`check-dist: committed bundles differ from a fresh build: ${stale.join(', ')}`);
    console.error('Run `npm run bundle` and commit the dist/ folders.');
    process.exitCode = 1;
  } else {
    console.log('check-dist: every dist/ matches a fresh build');
  }
} finally {
  await rm(out, { recursive: true, force: true });
}
