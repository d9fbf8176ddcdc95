import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import * as cache from '@actions/cache';
import {
  buildDirectory,
  bundleFileName,
  cacheKey,
  cachePaths,
  findBuild,
  type FoundBuild,
} from '../builds.js';
import { mergeConfig, validateConfig, type MergedConfig } from '../config.js';
import { runUrl, type ActionContext } from '../context.js';
import { Cancelled, ConfigurationError } from '../errors.js';
import { gitHubClient, statusOf, type GitHub, type Repository } from '../github.js';
import {
  downloadAsset,
  listLedger,
  releaseReservation,
  reserveReleaseId,
  uploadAsset,
  type LedgerEntry,
  type LedgerScope,
  type Reservation,
} from '../ledger.js';
import type { Log } from '../log.js';
import {
  changeSummary,
  configDiff,
  digestOf,
  MANIFEST_ASSET,
  parseManifest,
  serializeManifest,
  SIGNATURE_ASSET,
  type ConfigDiff,
  type Manifest,
} from '../manifest.js';
import { isPreviewEnvironment, resolveApp } from '../names.js';
import { encryptSecrets, maskSecret, parseRecipients, secretFingerprints } from '../secrets.js';
import { parseSigningKey, signMessage, type SigningKey } from '../signature.js';
import { formatBytes, markdownTable } from '../markdown.js';
import type { ReleaseInputs } from './inputs/release.js';
import type { StageResult } from './result.js';

export interface ReleaseOutputs extends Record<string, string> {
  'release-id': string;
  tag: string;
  'release-url': string;
  'manifest-digest': string;
  'previous-release-id': string;
  changes: string;
}

/** Preview environments, one per pull request: their releases are prereleases. */

/**
 * Private keys a workflow hands to other steps (run-action's SSH key, the hosts' age identity)
 * come along in `${{ toJSON(secrets) }}`; a release never carries them.
 */
const KEY_MATERIAL = /-----BEGIN OPENSSH PRIVATE KEY-----|AGE-SECRET-KEY-1[0-9A-Z]{58}/;

/**
 * Masks every secret value, and each line of a multi-line one, before anything can print it. Runs
 * before the JSON is checked: text that is not a JSON object is masked whole.
 */
function maskSecretValues(json: string | undefined, log: Log): void {
  if (json === undefined) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) {
    log.setSecret(json);
    return;
  }
  // Values that are not strings are refused later without being shown.
  for (const value of Object.values(parsed)) if (typeof value === 'string') maskSecret(log, value);
}

/** Rewrites a shared module's "signing-key: …" or "recipients line 2 …" error to name the input. */
function asInputError(input: string, error: unknown): unknown {
  if (!(error instanceof ConfigurationError) || error.problem.input === input) return error;
  const rest = error.message.startsWith(input)
    ? error.message.slice(input.length)
    : `: ${error.message}`;
  return new ConfigurationError(`Input '${input}'${rest}`);
}

interface CheckedInputs {
  app: string;
  sha: string;
  signingKey: SigningKey;
  recipients: string[];
  config: MergedConfig;
  prerelease: boolean;
}

/** Everything about the inputs that can be refused, refused before anything is read or written. */
async function checkInputs(inputs: ReleaseInputs, context: ActionContext): Promise<CheckedInputs> {
  const { log } = context;
  const app = resolveApp(inputs.app, context);
  const sha = inputs.sha ?? context.sha;
  if (!/^[0-9a-f]{40}$/.test(sha)) {
    throw new ConfigurationError(
      `Input 'sha' is empty and GITHUB_SHA is ${JSON.stringify(sha)}: expected a full commit SHA`,
    );
  }
  let signingKey: SigningKey;
  try {
    signingKey = parseSigningKey(inputs['signing-key']);
  } catch (error) {
    throw asInputError('signing-key', error);
  }
  let recipients: string[];
  try {
    recipients = parseRecipients(inputs.recipients);
  } catch (error) {
    throw asInputError('recipients', error);
  }

  const config = mergeConfig({
    vars: inputs.vars,
    secrets: inputs.secrets,
    config: inputs.config,
    include: inputs.include,
    exclude: inputs.exclude,
    alwaysExcluded: [],
    withheldValues: [inputs['signing-key']],
  });
  const keys = Object.keys(config.secrets).filter((name) =>
    KEY_MATERIAL.test(config.secrets[name] ?? ''),
  );
  for (const name of keys) delete config.secrets[name];
  if (keys.length > 0) {
    log.info(`Left out: ${keys.join(', ')} (private keys for other steps, never released)`);
  }
  const excluded = config.excluded.filter((name) => !keys.includes(name));
  if (excluded.length > 0) log.info(`Left out by include/exclude: ${excluded.join(', ')}`);
  if (config.shadowed.length > 0) {
    log.info(`Plain values replaced by secrets of the same name: ${config.shadowed.join(', ')}`);
  }
  if (inputs.schema !== undefined) {
    validateConfig(
      { ...config.vars, ...config.secrets },
      await readSchema(inputs.schema, context.workspace),
    );
  }
  const secretNames = Object.keys(config.secrets);
  if (secretNames.length > 0 && recipients.length === 0) {
    throw new ConfigurationError(
      `Input 'recipients' is empty, but ${secretNames.length} secret(s) would be released (${secretNames.join(', ')}): give the age public keys (age1…) to encrypt them to, or leave them out with exclude`,
    );
  }
  const prerelease = inputs.prerelease || isPreviewEnvironment(inputs.environment);
  return { app, sha, signingKey, recipients, config, prerelease };
}

/** The `schema` input: the schema itself as JSON, or a path in the workspace. */
async function readSchema(input: string, workspace: string): Promise<string> {
  if (input.trimStart().startsWith('{')) return input;
  const file = path.resolve(workspace, input.trim());
  try {
    return await readFile(file, 'utf8');
  } catch {
    throw new ConfigurationError(
      `Input 'schema': no JSON Schema file at ${JSON.stringify(input)} (looked in ${file})`,
    );
  }
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

async function locateBuild(
  checked: CheckedInputs,
  inputs: ReleaseInputs,
  context: ActionContext,
  github: GitHub,
  scratch: string,
): Promise<FoundBuild> {
  const { app, sha } = checked;
  const home = context.env.HOME ?? os.homedir();
  return findBuild({
    app,
    sha,
    repository: { owner: context.owner, repo: context.repo },
    runId: context.runId,
    token: inputs.token ?? '',
    github,
    artifacts: new DefaultArtifactClient(),
    restoreFromCache: cache.isFeatureAvailable()
      ? async () => {
          // Restored where build-action saved it: the cache entry is keyed by those paths.
          const directory = buildDirectory(home, app, sha);
          for (const compression of ['zstd', 'gzip'] as const) {
            const paths = cachePaths(directory, app, sha, compression);
            if (!(await cache.restoreCache(paths, cacheKey(app, sha)))) continue;
            if ((await Promise.all(paths.map(exists))).every(Boolean)) return directory;
            // The entry keeps paths relative to the workspace: another workspace path puts them
            // somewhere else.
            context.log.warning(
              `The cache entry ${cacheKey(app, sha)} did not restore to ${directory} (is the workspace at another path than in the build job?)`,
            );
          }
          return undefined;
        }
      : undefined,
    directory: scratch,
    log: context.log,
  });
}

export async function release(
  inputs: ReleaseInputs,
  context: ActionContext,
): Promise<StageResult<ReleaseOutputs>> {
  const { log } = context;
  maskSecretValues(inputs.secrets, log);
  log.setSecret(inputs['signing-key']);
  const checked = await checkInputs(inputs, context);
  const { app, sha } = checked;
  const environment = inputs.environment;
  const github = gitHubClient({ token: inputs.token, apiUrl: context.apiUrl, log });
  const repository = { owner: context.owner, repo: context.repo };
  const scope: LedgerScope = { ...repository, app, environment };

  const scratch = await mkdtemp(path.join(context.tempDir, 'release-'));
  const progress = { step: 'finding the build' };
  let leftovers: string[] = [];
  let found: FoundBuild | undefined;
  try {
    found = await locateBuild(checked, inputs, context, github, scratch);
    progress.step = 'reserving the next release ID';
    const reservation = await reserveReleaseId(github, scope, {
      sha,
      id: inputs['release-id'],
      log,
    });
    log.info(`Reserved ${reservation.tag} (tag at ${sha})`);
    try {
      return await unlessAborted(
        context.signal,
        publish({ checked, inputs, context, github, scope, reservation, found, progress }),
      );
    } catch (error) {
      const why =
        error instanceof Cancelled ? `cancelled while ${progress.step}` : `${progress.step} failed`;
      leftovers = await abandon(github, scope, reservation.tag, why, log);
      throw error;
    }
  } catch (error) {
    throw failedAt(progress.step, `${app}/${environment}`, leftovers, error);
  } finally {
    await rm(scratch, { recursive: true, force: true });
    if (found?.source === 'cache') {
      await rm(path.dirname(found.bundlePath), { recursive: true, force: true });
    }
  }
}

/**
 * Settles with `work`, or rejects with the signal's reason as soon as it aborts: a cancelled job
 * cannot wait for the request under way to finish.
 */
async function unlessAborted<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * A GitHub failure, said in one line with the step it stopped: by then any draft and tag are
 * gone, so running the job again starts over. Mistakes the user can fix pass through as they are.
 */
function failedAt(step: string, scope: string, leftovers: string[], error: unknown): unknown {
  if (error instanceof ConfigurationError || !(error instanceof Error)) return error;
  if (error instanceof Cancelled) {
    const after = leftovers.length
      ? `${leftovers.join(' and ')} could not be removed: delete them`
      : 'nothing is left behind';
    return new Cancelled(`No release of ${scope} made: ${error.message} while ${step}; ${after}`, {
      cause: error,
    });
  }
  const status = statusOf(error);
  const why = error.message.replace(/ - https:\/\/docs\.github\.com\S*$/, '');
  const after = leftovers.length
    ? `${leftovers.join(' and ')} could not be removed: delete them, then run the job again`
    : 'nothing is left behind, run the job again';
  const wrapped = new Error(
    `No release of ${scope} made: ${step} failed (${status !== undefined ? `${status} ` : ''}${why}); ${after}`,
    { cause: error },
  );
  wrapped.name = error.name;
  return wrapped;
}

interface PublishOptions {
  checked: CheckedInputs;
  inputs: ReleaseInputs;
  context: ActionContext;
  github: GitHub;
  scope: LedgerScope;
  reservation: Reservation;
  found: FoundBuild;
  /** The step under way, for the log when it fails. */
  progress: { step: string };
}

/** Writes the manifest, then draft → bundle, release.json, signature → publish. */
async function publish(options: PublishOptions): Promise<StageResult<ReleaseOutputs>> {
  const { checked, context, github, scope, reservation, found, progress } = options;
  const { app, sha, config } = checked;
  const { environment } = scope;
  const { log } = context;
  const repository: Repository = { owner: scope.owner, repo: scope.repo };
  // Once cancelled, the draft and tag are being removed: no later step may start, above all not
  // publishing.
  const next = (step: string) => {
    context.signal.throwIfAborted();
    progress.step = step;
  };

  next(`reading ${reservation.previous?.tag ?? 'the previous release'}`);
  const previous = reservation.previous
    ? await readManifest(github, repository, reservation.previous)
    : undefined;
  const secretNames = Object.keys(config.secrets);
  const manifest: Manifest = {
    schemaVersion: 1,
    app,
    environment,
    id: reservation.id,
    created: new Date().toISOString(),
    actor: context.actor || 'unknown',
    run: {
      id: Number(context.runId),
      attempt: Number(context.runAttempt),
      url: runUrl(context),
    },
    build: {
      sha,
      digest: found.facts.digest,
      size: found.facts.size,
      compression: found.facts.compression,
      artifact: found.facts.artifact,
    },
    config: {
      vars: config.vars,
      secrets:
        secretNames.length > 0
          ? {
              names: secretNames,
              fingerprints: secretFingerprints(config.secrets, checked.signingKey),
              ciphertext: await encryptSecrets(config.secrets, checked.recipients),
            }
          : null,
    },
    previous: previous ? { id: previous.manifest.id, digest: previous.digest } : null,
    changes: '',
  };
  manifest.changes = changeSummary(previous?.manifest, manifest);
  const bytes = serializeManifest(manifest);
  const digest = digestOf(bytes);
  const signature = new TextEncoder().encode(signMessage(bytes, checked.signingKey));
  const notes = releaseNotes({
    tag: reservation.tag,
    manifest,
    previous: previous?.manifest,
    diff: configDiff(previous?.manifest, manifest),
    digest,
  });

  next('creating the draft release');
  const { data: draft } = await github.rest.repos.createRelease({
    ...repository,
    tag_name: reservation.tag,
    target_commitish: sha,
    name: `${reservation.tag}: ${manifest.changes}`,
    body: notes,
    draft: true,
    prerelease: checked.prerelease,
    make_latest: 'false',
  });
  log.info(`Draft release ${draft.id} created; uploading the bundle, release.json and signature`);
  const bundleName = bundleFileName(app, sha, found.facts.compression);
  next(`uploading ${bundleName}`);
  await uploadAsset(github, draft.upload_url, {
    name: bundleName,
    contentType: 'application/octet-stream',
    body: { file: found.bundlePath },
    digest: found.facts.digest,
  });
  next(`uploading ${MANIFEST_ASSET}`);
  await uploadAsset(github, draft.upload_url, {
    name: MANIFEST_ASSET,
    contentType: 'application/json',
    body: { bytes },
    digest,
  });
  next(`uploading ${SIGNATURE_ASSET}`);
  await uploadAsset(github, draft.upload_url, {
    name: SIGNATURE_ASSET,
    contentType: 'text/plain',
    body: { bytes: signature },
    digest: digestOf(signature),
  });
  next('publishing the release');
  const { data: published } = await github.rest.repos.updateRelease({
    ...repository,
    release_id: draft.id,
    draft: false,
    // Releases of an environment are not the repository's "latest release" unless asked.
    make_latest: options.inputs['make-latest'] && !checked.prerelease ? 'true' : 'false',
  });
  log.info(`Published ${reservation.tag}: ${manifest.changes}`);

  const outputs: ReleaseOutputs = {
    'release-id': reservation.id,
    tag: reservation.tag,
    'release-url': published.html_url,
    'manifest-digest': digest,
    'previous-release-id': previous?.manifest.id ?? '',
    changes: manifest.changes,
  };
  const summary = [
    `### Release [${reservation.tag}](${published.html_url})`,
    '',
    `Build found in ${found.source}.`,
    '',
    notes,
    '',
  ].join('\n');
  return { outputs, summary };
}

/**
 * Undoes a release that was not published: its drafts (a retried create can leave two) and its
 * tag, so no half release is left and the ID is free again. Returns what could not be removed;
 * the error that stopped the release stays the one reported.
 */
async function abandon(
  github: GitHub,
  scope: LedgerScope,
  tag: string,
  why: string,
  log: Log,
): Promise<string[]> {
  log.info(`Release not published (${why}): removing its draft and the tag ${tag}`);
  const leftovers: string[] = [];
  try {
    const drafts = (await listLedger(github, scope)).filter(
      (entry) => entry.tag === tag && entry.draft,
    );
    for (const draft of drafts) {
      await github.rest.repos.deleteRelease({
        owner: scope.owner,
        repo: scope.repo,
        release_id: draft.releaseId,
      });
    }
  } catch (error) {
    log.warning(`Could not delete the draft release of ${tag}: ${(error as Error).message}`);
    leftovers.push(`the draft release of ${tag}`);
  }
  try {
    await releaseReservation(github, scope, tag);
  } catch (error) {
    log.warning(`Could not delete the tag ${tag}: ${(error as Error).message}`);
    leftovers.push(`the tag ${tag} (the next release waits for it)`);
  }
  return leftovers;
}

async function readManifest(
  github: GitHub,
  repository: Repository,
  entry: LedgerEntry,
): Promise<{ manifest: Manifest; digest: string }> {
  const asset = entry.assets.find((candidate) => candidate.name === MANIFEST_ASSET);
  if (!asset) {
    throw new ConfigurationError(
      `Release ${entry.tag} has no ${MANIFEST_ASSET}: it was not made by build-release-run, so the ledger cannot chain to it`,
    );
  }
  const bytes = await downloadAsset(github, repository, asset.id);
  return {
    manifest: parseManifest(bytes, `${entry.tag} ${MANIFEST_ASSET}`),
    digest: digestOf(bytes),
  };
}

/** A fenced block that no backtick run inside it can close early. */
function fenced(language: string, lines: string[]): string[] {
  const longest = Math.max(
    0,
    ...lines.map((line) => (line.match(/`+/g) ?? []).map((run) => run.length)).flat(),
  );
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}${language}`, ...lines, fence];
}

/** One line per changed key: var values shown (they are plain in release.json), secrets by name. */
function diffLines(previous: Manifest | undefined, next: Manifest, diff: ConfigDiff): string[] {
  const show = (manifest: Manifest | undefined, name: string) =>
    manifest && Object.hasOwn(manifest.config.vars, name)
      ? JSON.stringify(manifest.config.vars[name])
      : '(secret)';
  return [
    ...diff.added.map((name) => `+ ${name} ${show(next, name)}`),
    ...diff.changed.map((name) => `~ ${name} ${show(previous, name)} -> ${show(next, name)}`),
    ...diff.removed.map((name) => `- ${name}`),
  ];
}

/** The release body: what changed, what it holds, how to deploy it and go back, how to check it. */
function releaseNotes(options: {
  tag: string;
  manifest: Manifest;
  previous: Manifest | undefined;
  diff: ConfigDiff;
  digest: string;
}): string {
  const { manifest, previous, diff } = options;
  const vars = Object.keys(manifest.config.vars);
  const secrets = manifest.config.secrets?.names ?? [];
  const names = (list: string[]) =>
    list.length ? list.map((name) => `\`${name}\``).join(', ') : 'none';
  const changed = diffLines(previous, manifest, diff);
  const rollback = previous?.id ?? 'previous';
  return [
    `**${manifest.changes}**`,
    '',
    markdownTable(
      ['', ''],
      [
        ['Release', `\`${options.tag}\``],
        [
          'Build',
          `\`${manifest.build.sha}\` · \`${manifest.build.digest}\` · ${formatBytes(manifest.build.size)}`,
        ],
        [
          'Previous',
          manifest.previous
            ? `${manifest.previous.id} (\`${manifest.previous.digest}\`)`
            : 'none: the first release',
        ],
        ['Manifest', `\`${options.digest}\` (${MANIFEST_ASSET}, signed in ${SIGNATURE_ASSET})`],
        [
          'Made',
          `${manifest.created} by ${manifest.actor} in [run ${manifest.run.id}](${manifest.run.url})`,
        ],
      ],
    ),
    '',
    '#### Config',
    '',
    `Vars: ${names(vars)}`,
    '',
    `Secrets (age-encrypted; names only): ${names(secrets)}`,
    '',
    ...(previous
      ? changed.length
        ? [`Changes since ${previous.id}:`, '', ...fenced('diff', changed)]
        : [`No config change since ${previous.id}.`]
      : []),
    '',
    '#### Deploy, roll back',
    '',
    ...fenced('yaml', [
      '- uses: acme/build-release-run/run-action@v1',
      '  with:',
      `    environment: ${manifest.environment}`,
      `    release-id: ${manifest.id}`,
    ]),
    '',
    `To go back, deploy the release before it: \`release-id: ${rollback}\` (\`previous\` is the one the hosts ran before their current one). Releases never change; a rollback deploys an existing one.`,
    '',
    `Check it by hand: \`ssh-keygen -Y verify -f allowed_signers -I <signer> -n build-release-run -s ${SIGNATURE_ASSET} < ${MANIFEST_ASSET}\`.`,
  ].join('\n');
}
