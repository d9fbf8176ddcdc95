import { randomBytes } from 'node:crypto';
import { bundleFileName, type FoundBuild } from '../builds.js';
import { actionUses, docUrl, runUrl, type ActionContext } from '../context.js';
import { ConfigurationError } from '../errors.js';
import type { GitHub } from '../github.js';
import {
  createDraft,
  publishDraft,
  putAsset,
  tagOf,
  type Holding,
  type LedgerEntry,
  type LedgerScope,
  type AssetUpload,
  type Reservation,
} from '../ledger.js';
import {
  chainTo,
  digestOf,
  MANIFEST_ASSET,
  serializeManifest,
  SIGNATURE_ASSET,
  type Manifest,
  type StoredManifest,
  changeSummary,
} from '../manifest.js';
import { encryptSecrets, secretFingerprints } from '../secrets.js';
import { signMessage, UNTRUSTED_KEY, type AllowedSigner } from '../signature.js';
import { verifyManifest, type VerifiedManifest } from '../verify.js';
import type { CheckedInputs } from './inputs.js';
import { releaseNotes } from './notes.js';

/** The release itself: release.json and its signature, then draft, assets, publish. */

export interface ReleaseOutputs extends Record<string, string> {
  'release-id': string;
  tag: string;
  'release-url': string;
  'manifest-digest': string;
  'previous-release-id': string;
  changes: string;
}

export interface PublishOptions {
  checked: CheckedInputs;
  makeLatest: boolean;
  context: ActionContext;
  github: GitHub;
  scope: LedgerScope;
  reservation: Reservation;
  previous: LedgerEntry | undefined;
  found: FoundBuild;
  /** What the job holds, for the clean-up if a step fails. */
  holding: Holding;
  /** Names the step under way, for the log when it fails; throws once the job is cancelled. */
  step: (name: string) => void;
}

/**
 * release.json of the release a new one chains to, with its exact bytes, checked as run checks
 * what it deploys: signed by one of `signers` (checkInputs' chainSigners) and naming the tag it
 * is under. The chain is checked, not only written: a release that fails is never chained to.
 */
export async function readPrevious(
  github: GitHub,
  scope: LedgerScope,
  entry: LedgerEntry,
  signers: readonly AllowedSigner[],
): Promise<VerifiedManifest> {
  try {
    return await verifyManifest(github, scope, entry, signers);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    const { hint, problem } = error.problem;
    const untrusted = problem === UNTRUSTED_KEY;
    const chain = [
      hint,
      'the new release would chain to it, so none was made',
      untrusted
        ? 'if signing-key was rotated, give the keys that signed earlier releases in allowed-signers'
        : undefined,
    ];
    throw new ConfigurationError(
      { ...error.problem, hint: chain.filter((part) => part !== undefined).join('; ') },
      { cause: error },
    );
  }
}

async function makeManifest(
  options: PublishOptions,
  previous: StoredManifest | undefined,
): Promise<Manifest> {
  const { checked, context, reservation, found } = options;
  const secretNames = Object.keys(checked.config.secrets);
  const manifest: Manifest = {
    schemaVersion: 1,
    app: checked.app,
    environment: options.scope.environment,
    id: reservation.id,
    created: new Date().toISOString(),
    actor: context.actor || 'unknown',
    run: { id: Number(context.runId), attempt: Number(context.runAttempt), url: runUrl(context) },
    build: found.build,
    config: {
      vars: checked.config.vars,
      secrets:
        secretNames.length > 0
          ? {
              names: secretNames,
              fingerprints: secretFingerprints(checked.config.secrets, checked.signingKey),
              ciphertext: await encryptSecrets(checked.config.secrets, checked.recipients),
            }
          : null,
    },
    previous: chainTo(previous),
    changes: '',
  };
  manifest.changes = changeSummary(previous?.manifest, manifest);
  return manifest;
}

/** release.json for the reservation, chained to the previous release, signed, and its body. */
async function signedRelease(options: PublishOptions) {
  const { github, scope, reservation, checked } = options;
  options.step(`reading ${options.previous?.tag ?? 'the previous release'}`);
  const previous =
    options.previous && (await readPrevious(github, scope, options.previous, checked.chainSigners));
  if (previous) {
    options.context.log.info(
      `Chains to ${previous.entry.tag}: ${MANIFEST_ASSET} signed by ${previous.signer.principal}`,
    );
  }
  const manifest = await makeManifest(options, previous);
  const bytes = serializeManifest(manifest);
  const digest = digestOf(bytes);
  const signature = new TextEncoder().encode(signMessage(bytes, checked.signingKey));
  const { context } = options;
  const repository = `${context.owner}/${context.repo}`;
  const body = releaseNotes({
    tag: reservation.tag,
    manifest,
    previous: previous?.manifest,
    digest,
    links: {
      repository,
      repositoryUrl: `${context.serverUrl}/${repository}`,
      runAction: actionUses(context, 'run-action'),
      docs: docUrl(context, ''),
    },
  });
  return { manifest, bytes, digest, signature, body };
}

type Signed = Awaited<ReturnType<typeof signedRelease>>;

/** The bundle, release.json and its signature, with what GitHub must hold of each. */
function releaseAssets(
  options: PublishOptions,
  signed: Signed,
): (AssetUpload & { size: number })[] {
  const { checked, found } = options;
  return [
    {
      name: bundleFileName(checked.app, checked.sha, found.build.compression),
      contentType: 'application/octet-stream',
      body: { file: found.bundlePath },
      digest: found.build.digest,
      size: found.build.size,
    },
    {
      name: MANIFEST_ASSET,
      contentType: 'application/json',
      body: { bytes: signed.bytes },
      digest: signed.digest,
      size: signed.bytes.length,
    },
    {
      name: SIGNATURE_ASSET,
      contentType: 'text/plain',
      body: { bytes: signed.signature },
      digest: digestOf(signed.signature),
      size: signed.signature.length,
    },
  ];
}

/** Draft, assets, publish; returns the published release's URL. */
async function draftAndPublish(options: PublishOptions, signed: Signed): Promise<string> {
  const { checked, context, github, scope, reservation, holding, step } = options;
  step('creating the draft release');
  holding.draftSpec = {
    tag: reservation.tag,
    name: `${reservation.tag}: ${signed.manifest.changes}`,
    body: signed.body,
    prerelease: checked.prerelease,
    nonce: randomBytes(12).toString('hex'),
  };
  const draft = await createDraft(github, scope, holding.draftSpec);
  holding.draft = draft;
  context.log.info(
    `Draft release ${draft.id} created; uploading the bundle, release.json and signature`,
  );
  for (const asset of releaseAssets(options, signed)) {
    step(`uploading ${asset.name}`);
    await putAsset(github, scope, { draft, asset });
  }
  step('publishing the release');
  // Releases of an environment are not the repository's "latest release" unless asked.
  return publishDraft(github, scope, draft, options.makeLatest && !checked.prerelease);
}

export async function publish(options: PublishOptions) {
  const { context, scope, reservation, found } = options;
  const signed = await signedRelease(options);
  const url = await draftAndPublish(options, signed);
  context.log.info(`Published ${reservation.tag}: ${signed.manifest.changes}`);
  const outputs: ReleaseOutputs = {
    'release-id': reservation.id,
    tag: tagOf(scope, reservation.id),
    'release-url': url,
    'manifest-digest': signed.digest,
    'previous-release-id': signed.manifest.previous?.id ?? '',
    changes: signed.manifest.changes,
  };
  const summary = [
    `### Release [${reservation.tag}](${url})`,
    '',
    `Build found in ${found.source}.`,
    '',
    signed.body,
    '',
  ].join('\n');
  return { outputs, summary };
}
