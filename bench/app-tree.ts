import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * A realistic app for the deploy benchmark: real npm packages copied from this repository's
 * node_modules (JavaScript, JSON, type definitions, a few native binaries), plus a small entry
 * file that each new version changes. The packages are taken in name order, skipping any over
 * 16 MiB (Node's own binary, OpenAPI descriptions), until the tree passes 150 MiB and 10,000
 * files; node_modules comes from package-lock.json, so every checkout gets the same tree.
 */

const MODULES = join(import.meta.dirname, '..', 'node_modules');
const MAX_PACKAGE_BYTES = 16 * 2 ** 20;
const MIN_BYTES = 150 * 2 ** 20;
const MIN_FILES = 10_000;
/** Bumped whenever the recipe changes, so a cached tree is rebuilt. */
const RECIPE = 'v1';

export interface AppTrees {
  /** The first version. */
  v1: string;
  /** The second: v1 with one file changed (hard links to v1 for the rest, so no disk is spent). */
  v2: string;
  /** The one file that differs, relative to the tree. */
  changed: string;
  bytes: number;
  files: number;
}

async function packageNames(): Promise<string[]> {
  const names: string[] = [];
  for (const name of (await readdir(MODULES)).sort()) {
    if (name.startsWith('.')) continue;
    if (!name.startsWith('@')) {
      names.push(name);
      continue;
    }
    for (const inner of (await readdir(join(MODULES, name))).sort()) names.push(`${name}/${inner}`);
  }
  return names;
}

async function measure(path: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) {
      const inner = await measure(child);
      bytes += inner.bytes;
      files += inner.files;
      continue;
    }
    files++;
    if (entry.isFile()) bytes += (await lstat(child)).size;
  }
  return { bytes, files };
}

/** The entry file: a few lines that name the version, as an app's own code would change. */
function entryFile(version: string): string {
  return `// The app's own code; the rest of the tree is its dependencies.\nexport const version = '${version}';\nconsole.log('bench app', version);\n`;
}

const CHANGED = 'app/main.js';

async function copyPackages(into: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const name of await packageNames()) {
    const size = await measure(join(MODULES, name));
    if (size.bytes > MAX_PACKAGE_BYTES) continue;
    const target = join(into, 'node_modules', name);
    await mkdir(join(target, '..'), { recursive: true });
    // `.bin` folders hold links that may point outside the package: the app would not ship them.
    execFileSync('cp', ['-a', join(MODULES, name), target]);
    execFileSync('find', [target, '-name', '.bin', '-prune', '-exec', 'rm', '-rf', '{}', '+']);
    bytes += size.bytes;
    files += size.files;
    if (bytes >= MIN_BYTES && files >= MIN_FILES) return { bytes, files };
  }
  throw new Error(`node_modules holds less than ${MIN_BYTES} bytes in packages under 16 MiB`);
}

/**
 * The app's two versions under `work`, made once and reused while the recipe is unchanged.
 * `copies` > 1 repeats the packages in as many folders (real copies, not links, so tar sees no
 * hard links): seven make a tree of about 1 GiB.
 */
export async function ensureAppTrees(work: string, copies = 1): Promise<AppTrees> {
  const name = copies === 1 ? 'app' : `app-x${copies}`;
  const v1 = join(work, `${name}-v1`);
  const v2 = join(work, `${name}-v2`);
  const done = join(work, `${name}.${RECIPE}.done`);
  if (!existsSync(done)) {
    process.stdout.write(`copying packages into ${v1} (once) ...`);
    await rm(v1, { recursive: true, force: true });
    await rm(v2, { recursive: true, force: true });
    await mkdir(join(v1, 'app'), { recursive: true });
    await writeFile(join(v1, CHANGED), entryFile('v1'));
    await copyPackages(join(v1, 'part0'));
    for (let i = 1; i < copies; i++) {
      execFileSync('cp', ['-a', join(v1, 'part0'), join(v1, `part${i}`)]);
    }
    execFileSync('cp', ['-al', v1, v2]);
    // A new file, not a write through the link: v1 keeps its content.
    await rm(join(v2, CHANGED));
    await writeFile(join(v2, CHANGED), entryFile('v2'));
    await writeFile(done, '');
    console.log(' done');
  }
  const size = await measure(v1);
  return { v1, v2, changed: CHANGED, ...size };
}
