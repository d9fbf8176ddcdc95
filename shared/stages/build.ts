import { execFile } from 'node:child_process';
import { mkdir, rm, stat, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DefaultArtifactClient } from '@actions/artifact';
import * as cache from '@actions/cache';
import { z } from 'zod';
import { bundleDigest, packBundle, type Compression } from '../bundle.js';
import { buildDirectory, buildId, cacheKey, cachePaths } from '../builds.js';
import type { ActionContext } from '../context.js';
import { ConfigurationError } from '../errors.js';
import { booleanInput, enumInput, integerInput, splitLines } from '../inputs.js';
import { parseBuildFacts, type BuildFacts } from '../manifest.js';
import { appName, COMMIT_SHA } from '../names.js';
import { execBash } from '../shell.js';
import type { StageResult } from './result.js';
import { formatBytes, formatSeconds, markdownTable } from '../markdown.js';

export const buildInputs = z.object({
  path: z
    .string({ error: 'expected files, directories or globs, one per line' })
    .transform((value) => splitLines(value))
    .refine((lines) => lines.length > 0, 'expected files, directories or globs, one per line'),
  app: appName.optional(),
  command: z.string().optional(),
  'working-directory': z.string().optional(),
  cache: booleanInput(true),
  'retention-days': integerInput(0, 0, 400),
  compression: enumInput(['zstd', 'gzip'] as const, 'zstd'),
});

export type BuildInputs = z.output<typeof buildInputs>;

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

/** The app name: the input, or the repository's name when that is a safe name. */
export function resolveApp(input: string | undefined, context: ActionContext): string {
  if (input !== undefined) return input;
  const parsed = appName.safeParse(context.repo);
  if (!parsed.success) {
    throw new ConfigurationError(
      `Input 'app' is empty and the repository name ${JSON.stringify(context.repo)} is not a usable app name: set 'app'`,
    );
  }
  return parsed.data;
}

function resolveWorkingDirectory(workspace: string, input: string | undefined): string {
  const dir = path.resolve(workspace, input ?? '.');
  const relative = path.relative(workspace, dir);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new ConfigurationError(
      `Input 'working-directory': ${JSON.stringify(input)} is outside the workspace ${workspace}`,
    );
  }
  return dir;
}

/** The commit time, so that the same commit always packs to the same bytes. */
async function sourceDateEpoch(context: ActionContext, sha: string): Promise<number> {
  const fromEnv = context.env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return Number(fromEnv);
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

export async function build(
  inputs: BuildInputs,
  context: ActionContext,
): Promise<StageResult<BuildOutputs>> {
  const started = Date.now();
  const { log } = context;
  const app = resolveApp(inputs.app, context);
  const sha = context.sha;
  if (!COMMIT_SHA.test(sha))
    throw new Error(`GITHUB_SHA is not a full commit SHA: ${JSON.stringify(sha)}`);
  const compression: Compression = inputs.compression;
  const workDir = resolveWorkingDirectory(context.workspace, inputs['working-directory']);
  const dir = buildDirectory(context.env.HOME ?? os.homedir(), app, sha);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const [bundlePath, factsPath] = cachePaths(dir, app, sha, compression) as [string, string];
  const timings: [string, number][] = [];
  const time = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const at = Date.now();
    try {
      return await work();
    } finally {
      timings.push([phase, Date.now() - at]);
    }
  };

  try {
    let facts: Omit<BuildFacts, 'artifact'> | undefined;
    let topLevel: string[] = [];
    const key = cacheKey(app, sha);
    if (inputs.cache && cache.isFeatureAvailable()) {
      const hit = await time('cache restore', () =>
        log.group(`Restoring the bundle of ${sha} from the cache`, () =>
          cache.restoreCache([bundlePath, factsPath], key),
        ),
      );
      if (hit) {
        const restored = parseBuildFacts(JSON.parse(await readFile(factsPath, 'utf8')));
        if (
          restored.compression === compression &&
          (await bundleDigest(bundlePath)) === restored.digest
        ) {
          facts = restored;
          log.info(
            `Restored the bundle of ${sha} from the cache (${key}): skipping command and packing`,
          );
        } else {
          log.warning(
            `The cached bundle of ${sha} does not match its facts or compression: building again`,
          );
        }
      }
    }

    const cacheHit = facts !== undefined;
    if (!facts) {
      if (inputs.command !== undefined) {
        log.info(`Running the build command in ${workDir}`);
        const result = await time('command', () =>
          execBash(inputs.command as string, {
            cwd: workDir,
            env: context.env,
            write: (chunk) => process.stdout.write(chunk),
          }),
        );
        if (result.code !== 0) {
          throw new ConfigurationError(
            `Input 'command' failed with exit code ${result.code}: ${result.tail.slice(-5).join(' | ') || '(no output)'}`,
          );
        }
      }
      const mtime = await sourceDateEpoch(context, sha);
      let lastReport = Date.now();
      const packed = await time('pack', () =>
        packBundle(
          {
            root: workDir,
            patterns: inputs.path,
            compression,
            mtime,
            onProgress: (progress) => {
              if (Date.now() - lastReport < 5000) return;
              lastReport = Date.now();
              log.info(
                `Packing: ${progress.entries} of ${progress.total} entries, ${formatBytes(progress.bytes)} read`,
              );
            },
          },
          bundlePath,
        ),
      );
      topLevel = packed.topLevel;
      facts = {
        app,
        sha,
        ref: context.ref,
        runId: Number(context.runId),
        runAttempt: Number(context.runAttempt),
        digest: packed.digest,
        size: packed.size,
        files: packed.files,
        compression,
        created: new Date().toISOString(),
      };
      log.info(`Packed ${packed.files} files into ${formatBytes(packed.size)}: ${packed.digest}`);
    }

    const artifacts = new DefaultArtifactClient();
    const retention =
      inputs['retention-days'] > 0 ? { retentionDays: inputs['retention-days'] } : {};
    const bundleName = path.basename(bundlePath);
    const uploaded = await time('upload', () =>
      log.group(`Uploading ${bundleName}`, () =>
        artifacts.uploadArtifact(bundleName, [bundlePath], dir, {
          skipArchive: true,
          ...retention,
        }),
      ),
    );
    if (uploaded.id === undefined)
      throw new Error(`the artifact service gave no ID for ${bundleName}`);
    if (uploaded.digest !== undefined && `sha256:${uploaded.digest}` !== facts.digest) {
      throw new Error(
        `uploaded ${bundleName} has digest sha256:${uploaded.digest}, expected ${facts.digest}`,
      );
    }
    const recorded: BuildFacts = { ...facts, artifact: { id: uploaded.id, name: bundleName } };
    await writeFile(factsPath, `${JSON.stringify(recorded, null, 2)}\n`);
    try {
      await log.group(`Uploading ${path.basename(factsPath)}`, () =>
        artifacts.uploadArtifact(path.basename(factsPath), [factsPath], dir, {
          skipArchive: true,
          ...retention,
        }),
      );
    } catch (error) {
      await artifacts.deleteArtifact(bundleName).catch(() => undefined);
      throw error;
    }

    if (inputs.cache && !cacheHit && cache.isFeatureAvailable()) {
      await time('cache save', async () => {
        try {
          await log.group(`Saving the bundle in the cache as ${key}`, () =>
            cache.saveCache([bundlePath, factsPath], key),
          );
          log.info(`Saved the bundle in the cache as ${key}`);
        } catch (error) {
          log.warning(`Could not save the bundle in the cache: ${(error as Error).message}`);
        }
      });
    }

    const outputs: BuildOutputs = {
      'build-id': buildId(app, sha),
      sha,
      'artifact-id': String(uploaded.id),
      'artifact-name': bundleName,
      digest: recorded.digest,
      size: String(recorded.size),
      files: String(recorded.files),
      'cache-hit': String(cacheHit),
    };
    const summary = [
      `### Build ${app} @ \`${sha.slice(0, 7)}\``,
      '',
      markdownTable(
        ['', ''],
        [
          ['Bundle', `\`${bundleName}\` (artifact ${uploaded.id})`],
          ['Digest', `\`${recorded.digest}\``],
          ['Size', `${formatBytes(recorded.size)}, ${recorded.files} files, ${compression}`],
          [
            'Cache',
            cacheHit ? `hit (\`${key}\`): command and packing skipped` : 'miss: built and packed',
          ],
          ...(topLevel.length
            ? [['Contents', topLevel.map((name) => `\`${name}\``).join(' ')]]
            : []),
          [
            'Time',
            `${formatSeconds(Date.now() - started)} (${timings.map(([phase, ms]) => `${phase} ${formatSeconds(ms)}`).join(', ')})`,
          ],
        ],
      ),
      '',
    ].join('\n');
    return { outputs, summary };
  } finally {
    await stat(dir).then(
      () => rm(dir, { recursive: true, force: true }),
      () => undefined,
    );
  }
}
