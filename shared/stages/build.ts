import { execFile } from 'node:child_process';
import { mkdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DefaultArtifactClient } from '@actions/artifact';
import * as cache from '@actions/cache';
import { bundleDigest, packBundle, resolveEntries, type Compression } from '../bundle.js';
import { MAX_MTIME } from '../bundle/tar.js';
import { buildDirectory, buildId, cacheKey, cachePaths } from '../builds.js';
import type { ActionContext } from '../context.js';
import { ConfigurationError, foldedTail, quoted } from '../errors.js';
import type { Log } from '../log.js';
import { parseBuildFacts, type BuildFacts } from '../manifest.js';
import { formatBytes, formatSeconds, markdownTable } from '../markdown.js';
import { COMMIT_SHA, resolveApp } from '../names.js';
import { execBash } from '../shell.js';
import type { BuildInputs } from './inputs/build.js';
import type { StageResult } from './result.js';

export interface BuildOutputs extends Record<string, string> {
  'build-id': string;
  sha: string;
  'artifact-id': string;
  'artifact-name': string;
  digest: string;
  size: string;
  files: string;
  'cache-hit': string;
}

/** What one build works with, settled before anything runs. */
export interface BuildPlan {
  app: string;
  sha: string;
  compression: Compression;
  /** Where the command runs and the paths are read from: a directory inside the workspace. */
  workDir: string;
  /** A scratch directory for the bundle and its facts, removed at the end. */
  dir: string;
  bundlePath: string;
  factsPath: string;
  cacheKey: string;
}

/** A bundle ready to upload: made now, or restored from the cache. */
interface MadeBundle {
  facts: Omit<BuildFacts, 'artifact'>;
  cacheHit: boolean;
  /** The top-level names packed; unknown for a bundle restored from the cache. */
  topLevel: string[];
}

/**
 * The build stage: check the inputs, restore the bundle of this commit from the cache or run the
 * command and pack the paths, upload the bundle and its facts as artifacts, save the cache.
 */
export async function build(
  inputs: BuildInputs,
  context: ActionContext,
  checked?: BuildPlan,
): Promise<StageResult<BuildOutputs>> {
  const started = Date.now();
  const plan = checked ?? (await checkBuild(inputs, context));
  const timings = new Timings();
  await rm(plan.dir, { recursive: true, force: true });
  await mkdir(plan.dir, { recursive: true });
  try {
    const cached = inputs.cache && cache.isFeatureAvailable();
    const restored = cached ? await restoreBundle(plan, timings, context.log) : undefined;
    const made = restored ?? (await makeBundle(inputs, plan, context, timings));
    // The artifact and cache clients say a lot: folded, so the build's own lines stand out.
    const uploaded = await context.log.group(`Uploading the build of ${plan.sha}`, () =>
      uploadBuild(plan, made.facts, inputs['retention-days'], timings),
    );
    if (cached && !made.cacheHit) await saveBundle(plan, timings, context.log);
    return {
      outputs: buildOutputs(plan, uploaded, made.cacheHit),
      summary: buildSummary(plan, uploaded, made, timings.describe(Date.now() - started)),
    };
  } finally {
    await stat(plan.dir).then(
      () => rm(plan.dir, { recursive: true, force: true }),
      () => undefined,
    );
  }
}

/** The build stage's "check inputs" step: what the build works with, settled before anything runs. */
export async function checkBuild(inputs: BuildInputs, context: ActionContext): Promise<BuildPlan> {
  const app = resolveApp(inputs.app, context);
  const sha = context.sha;
  if (!COMMIT_SHA.test(sha)) {
    throw new Error(`GITHUB_SHA is not a full commit SHA: ${JSON.stringify(sha)}`);
  }
  const workDir = await workingDirectory(context.workspace, inputs['working-directory']);
  const dir = buildDirectory(context.env.HOME ?? os.homedir(), app, sha);
  const [bundlePath, factsPath] = cachePaths(dir, app, sha, inputs.compression) as [string, string];
  const key = cacheKey(app, sha);
  return {
    app,
    sha,
    compression: inputs.compression,
    workDir,
    dir,
    bundlePath,
    factsPath,
    cacheKey: key,
  };
}

/**
 * The `working-directory` input, checked before anything runs in it: a directory that exists,
 * inside the workspace, also once every symlink on the way is followed.
 */
async function workingDirectory(workspace: string, input: string | undefined): Promise<string> {
  const refuse = (problem: string, got?: string) =>
    new ConfigurationError({
      input: 'working-directory',
      problem,
      got: got ?? quoted(input ?? '.'),
    });
  const dir = path.resolve(workspace, input ?? '.');
  if (!isInside(workspace, dir)) throw refuse(`is outside the workspace ${workspace}`);
  const stats = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
  if (stats === undefined) throw refuse('does not exist in the workspace');
  if (!stats.isDirectory()) throw refuse('is not a directory');
  const real = await realpath(dir);
  if (!isInside(await realpath(workspace), real)) {
    throw refuse(`leads outside the workspace through a symlink, to ${real}`);
  }
  return dir;
}

function isInside(root: string, dir: string): boolean {
  const relative = path.relative(root, dir);
  return !(relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative));
}

/** The bundle of this commit from the cache, if it is there and matches its facts. */
async function restoreBundle(
  plan: BuildPlan,
  timings: Timings,
  log: Log,
): Promise<MadeBundle | undefined> {
  const { bundlePath, factsPath, cacheKey: key, sha } = plan;
  const hit = await timings.time('cache restore', () =>
    log.group(`Restoring the bundle of ${sha} from the cache`, () =>
      cache.restoreCache([bundlePath, factsPath], key),
    ),
  );
  if (!hit) return undefined;
  const restored = parseBuildFacts(JSON.parse(await readFile(factsPath, 'utf8')));
  if (
    restored.compression === plan.compression &&
    (await bundleDigest(bundlePath)) === restored.digest
  ) {
    log.info(`Restored the bundle of ${sha} from the cache (${key}): skipping command and packing`);
    return { facts: restored, cacheHit: true, topLevel: [] };
  }
  log.warning(
    `The cached bundle of ${sha} does not match its facts or compression: building again`,
  );
  return undefined;
}

/** Runs the build command, then packs the `path` lines into the bundle. */
async function makeBundle(
  inputs: BuildInputs,
  plan: BuildPlan,
  context: ActionContext,
  timings: Timings,
): Promise<MadeBundle> {
  const { log } = context;
  if (inputs.command !== undefined) {
    const command = inputs.command;
    log.info(`Running the build command in ${plan.workDir}`);
    const result = await timings.time('command', () =>
      execBash(command, {
        cwd: plan.workDir,
        env: context.env,
        write: (chunk) => process.stdout.write(chunk),
      }),
    );
    if (result.code !== 0) {
      throw new ConfigurationError({
        input: 'command',
        problem: `failed with exit code ${result.code}`,
        got: foldedTail(result.tail.slice(-5).join(' | ') || '(no output)'),
      });
    }
  }
  const mtime = await sourceDateEpoch(context, plan.sha);
  const packed = await timings.time('pack', () => pack(inputs.path, plan, mtime, log));
  const facts = {
    app: plan.app,
    sha: plan.sha,
    ref: context.ref,
    runId: Number(context.runId),
    runAttempt: Number(context.runAttempt),
    digest: packed.digest,
    size: packed.size,
    files: packed.files,
    compression: plan.compression,
    created: new Date().toISOString(),
  };
  log.info(`Packed ${packed.files} files into ${formatBytes(packed.size)}: ${packed.digest}`);
  return { facts, cacheHit: false, topLevel: packed.topLevel };
}

/** Packs what the `path` lines name; a refusal of what they name is said of that input. */
async function pack(patterns: readonly string[], plan: BuildPlan, mtime: number, log: Log) {
  let entries;
  try {
    entries = await resolveEntries(plan.workDir, patterns);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw new ConfigurationError({ ...error.problem, input: 'path' });
  }
  let lastReport = Date.now();
  return packBundle(
    {
      root: plan.workDir,
      entries,
      compression: plan.compression,
      mtime,
      onProgress: (progress) => {
        if (Date.now() - lastReport < 5000) return;
        lastReport = Date.now();
        log.info(
          `Packing: ${progress.entries} of ${progress.total} entries, ${formatBytes(progress.bytes)} read`,
        );
      },
    },
    plan.bundlePath,
  );
}

/** The commit time, so that the same commit always packs to the same bytes. */
async function sourceDateEpoch(context: ActionContext, sha: string): Promise<number> {
  const fromEnv = context.env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv) && Number(fromEnv) <= MAX_MTIME) {
    return Number(fromEnv);
  }
  try {
    const { stdout } = await promisify(execFile)('git', ['log', '-1', '--format=%ct', sha], {
      cwd: context.workspace,
    });
    if (/^\d+\s*$/.test(stdout)) return Number(stdout.trim());
  } catch {
    // Not a git checkout, or the commit is not fetched: fall back to a fixed time.
  }
  context.log.info(
    'No commit time (no git history, no SOURCE_DATE_EPOCH): bundle times are 1970-01-01',
  );
  return 0;
}

interface Uploaded {
  id: number;
  name: string;
  facts: BuildFacts;
}

/** Uploads the bundle as it is, then its facts; a failed second upload removes the first. */
async function uploadBuild(
  plan: BuildPlan,
  facts: MadeBundle['facts'],
  retentionDays: number,
  timings: Timings,
): Promise<Uploaded> {
  const artifacts = new DefaultArtifactClient();
  const options = { skipArchive: true, ...(retentionDays > 0 ? { retentionDays } : {}) };
  const name = path.basename(plan.bundlePath);
  const uploaded = await timings.time('upload', () =>
    artifacts.uploadArtifact(name, [plan.bundlePath], plan.dir, options),
  );
  if (uploaded.id === undefined) throw new Error(`the artifact service gave no ID for ${name}`);
  if (uploaded.digest !== undefined && `sha256:${uploaded.digest}` !== facts.digest) {
    throw new Error(
      `uploaded ${name} has digest sha256:${uploaded.digest}, expected ${facts.digest}`,
    );
  }
  const recorded: BuildFacts = { ...facts, artifact: { id: uploaded.id, name } };
  await writeFile(plan.factsPath, `${JSON.stringify(recorded, null, 2)}\n`);
  try {
    const factsName = path.basename(plan.factsPath);
    await artifacts.uploadArtifact(factsName, [plan.factsPath], plan.dir, options);
  } catch (error) {
    await artifacts.deleteArtifact(name).catch(() => undefined);
    throw error;
  }
  return { id: uploaded.id, name, facts: recorded };
}

/** Saves the bundle and its facts under the commit's key; a failure is only a warning. */
async function saveBundle(plan: BuildPlan, timings: Timings, log: Log): Promise<void> {
  await timings.time('cache save', async () => {
    try {
      await log.group(`Saving the bundle in the cache as ${plan.cacheKey}`, () =>
        cache.saveCache([plan.bundlePath, plan.factsPath], plan.cacheKey),
      );
      log.info(`Saved the bundle in the cache as ${plan.cacheKey}`);
    } catch (error) {
      log.warning(`Could not save the bundle in the cache: ${(error as Error).message}`);
    }
  });
}

function buildOutputs(plan: BuildPlan, uploaded: Uploaded, cacheHit: boolean): BuildOutputs {
  return {
    'build-id': buildId(plan.app, plan.sha),
    sha: plan.sha,
    'artifact-id': String(uploaded.id),
    'artifact-name': uploaded.name,
    digest: uploaded.facts.digest,
    size: String(uploaded.facts.size),
    files: String(uploaded.facts.files),
    'cache-hit': String(cacheHit),
  };
}

function buildSummary(plan: BuildPlan, uploaded: Uploaded, made: MadeBundle, time: string): string {
  const { facts } = uploaded;
  const rows = [
    ['Bundle', `\`${uploaded.name}\` (artifact ${uploaded.id})`],
    ['Digest', `\`${facts.digest}\``],
    ['Size', `${formatBytes(facts.size)}, ${facts.files} files, ${plan.compression}`],
    [
      'Cache',
      made.cacheHit
        ? `hit (\`${plan.cacheKey}\`): command and packing skipped`
        : 'miss: built and packed',
    ],
    ...(made.topLevel.length > 0
      ? [['Contents', made.topLevel.map((name) => `\`${name}\``).join(' ')]]
      : []),
    ['Time', time],
  ];
  return [
    `### Build ${plan.app} @ \`${plan.sha.slice(0, 7)}\``,
    '',
    markdownTable(['', ''], rows),
    '',
  ].join('\n');
}

/** How long each phase took, for the summary. */
class Timings {
  readonly #phases: [string, number][] = [];

  async time<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const at = Date.now();
    try {
      return await work();
    } finally {
      this.#phases.push([phase, Date.now() - at]);
    }
  }

  describe(totalMs: number): string {
    const phases = this.#phases.map(([phase, ms]) => `${phase} ${formatSeconds(ms)}`);
    return `${formatSeconds(totalMs)} (${phases.join(', ')})`;
  }
}
