import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { checkedEntries, defaultMaxExpandedBytes } from './bundle.js';
import { ContentRecorder } from './bundle/content.js';
import { ReleasePayload } from './bundle/payload.js';
import { bundleFileName } from './builds.js';
import { renderEnvFile } from './dotenv.js';
import { ConfigurationError } from './errors.js';
import type { GitHub, Repository } from './github.js';
import {
  downloadAsset,
  findRelease,
  openAsset,
  receive,
  type LedgerEntry,
  type LedgerScope,
} from './ledger.js';
import type { Log } from './log.js';
import {
  checkPreviousLink,
  digestOf,
  MANIFEST_ASSET,
  parseManifest,
  SIGNATURE_ASSET,
  type Manifest,
} from './manifest.js';
import { decryptSecrets, maskSecret } from './secrets.js';
import { verifyMessage, type AllowedSigner, type VerifiedSignature } from './signature.js';

/*
 * A release is trusted only after these checks, all made before any host is touched: the
 * signature of release.json against allowed-signers, the manifest naming the release that was
 * asked for, its link to the release before it, the bundle's digest against the manifest, the
 * secrets decrypting to the names the manifest lists. Each refusal is a ConfigurationError naming
 * the release and what differs.
 */

/** release.json whose signature and names were checked, with its exact bytes. */
export interface VerifiedManifest {
  entry: LedgerEntry;
  manifest: Manifest;
  bytes: Buffer;
  signature: Buffer;
  /** sha256 of release.json: what a host's copy is compared with. */
  digest: string;
  signer: VerifiedSignature;
}

function subjectOf(entry: LedgerEntry): string {
  return `release ${entry.tag}`;
}

/** A lower layer's refusal, said of this release; its own subject (if any) follows. */
function concerning(entry: LedgerEntry, error: ConfigurationError): ConfigurationError {
  const inner = error.problem.subject;
  const subject = inner === undefined ? subjectOf(entry) : `${subjectOf(entry)}: ${inner}`;
  return new ConfigurationError({ ...error.problem, subject });
}

function asset(entry: LedgerEntry, name: string): LedgerEntry['assets'][number] {
  const found = entry.assets.find((candidate) => candidate.name === name);
  if (!found) {
    throw new ConfigurationError({
      subject: subjectOf(entry),
      problem: `has no ${name} asset`,
      hint: 'it was not made by build-release-run, or is incomplete',
    });
  }
  return found;
}

/** Small assets only: a manifest or a signature larger than this is not one. */
const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * Downloads release.json and its signature and checks them: signed by a key in
 * `allowedSigners` for the build-release-run namespace, and naming the app, environment and
 * ID it was published under (so a signed manifest cannot be replayed under another tag).
 */
export async function verifyManifest(
  github: GitHub,
  scope: LedgerScope,
  entry: LedgerEntry,
  allowedSigners: readonly AllowedSigner[],
  now: Date = new Date(),
): Promise<VerifiedManifest> {
  const repository: Repository = { owner: scope.owner, repo: scope.repo };
  const manifestAsset = asset(entry, MANIFEST_ASSET);
  const signatureAsset = asset(entry, SIGNATURE_ASSET);
  for (const small of [manifestAsset, signatureAsset]) {
    if (small.size > MAX_MANIFEST_BYTES) {
      throw new ConfigurationError({
        subject: `${subjectOf(entry)}: ${small.name}`,
        problem: `is ${small.size} bytes, too large to be one`,
      });
    }
  }
  const [bytes, signature] = await Promise.all([
    downloadAsset(github, repository, manifestAsset.id),
    downloadAsset(github, repository, signatureAsset.id),
  ]);
  const checked = verifySignedManifest(
    { bytes, signature },
    { app: scope.app, environment: scope.environment, id: entry.id },
    {
      allowedSigners,
      now,
      source: {
        subject: subjectOf(entry),
        manifest: `${entry.tag} ${MANIFEST_ASSET}`,
        misnamed: 'it was published under the wrong tag',
      },
    },
  );
  return { entry, ...checked };
}

/** Where a release.json was found, as its refusals name it. */
export interface ManifestSource {
  /** `release <tag>`, or a host's copy: `host deploy@web-1: releases/v3`. */
  subject: string;
  /** How a refusal of the manifest's own content names the file. */
  manifest: string;
  /** What it means here that the manifest is signed for another release. */
  misnamed?: string;
}

/**
 * release.json and its signature, wherever they were found (a release's assets, a host's copy):
 * signed by a key in `allowedSigners` for the build-release-run namespace, and naming the app,
 * environment and ID they were found under, so a signed manifest cannot be replayed elsewhere.
 */
export function verifySignedManifest(
  found: { bytes: Buffer; signature: Buffer },
  expected: { app: string; environment: string; id: string },
  options: {
    allowedSigners: readonly AllowedSigner[];
    now?: Date;
    source: ManifestSource;
  },
): Omit<VerifiedManifest, 'entry'> {
  const { bytes, signature } = found;
  const { source } = options;
  let signer: VerifiedSignature;
  try {
    signer = verifyMessage(bytes, signature.toString('utf8'), options.allowedSigners, {
      ...(options.now ? { now: options.now } : {}),
    });
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw new ConfigurationError({
      ...error.problem,
      subject: `${source.subject} is not trusted: ${SIGNATURE_ASSET}`,
    });
  }
  const manifest = parseManifest(bytes, source.manifest);
  const asked = `${expected.app}/${expected.environment}/${expected.id}`;
  const named = `${manifest.app}/${manifest.environment}/${manifest.id}`;
  if (named !== asked) {
    throw new ConfigurationError({
      subject: source.subject,
      problem: `its signed ${MANIFEST_ASSET} is for ${named}, not ${asked}`,
      ...(source.misnamed ? { hint: source.misnamed } : {}),
    });
  }
  return { manifest, bytes, signature, digest: digestOf(bytes), signer };
}

export interface ChainOptions {
  scope: LedgerScope;
  allowedSigners: readonly AllowedSigner[];
  now?: Date;
}

/**
 * Checks a verified release's `previous` link against the release before it as published: that
 * release must exist in the ledger, its release.json be signed by an allowed signer, and its
 * bytes have the digest the link records. Returns the predecessor, or undefined for a first
 * release. A link that does not hold means the ledger was rewritten after this release was made.
 */
export async function verifyPreviousLink(
  github: GitHub,
  release: VerifiedManifest,
  options: ChainOptions,
): Promise<VerifiedManifest | undefined> {
  const link = release.manifest.previous;
  if (link === null) return undefined;
  const entry = await findRelease(github, options.scope, link.id);
  if (entry === undefined) {
    throw new ConfigurationError({
      subject: subjectOf(release.entry),
      problem: `names ${link.id} as its previous release, but the ledger has no published release ${link.id}`,
      hint: 'the ledger was changed after this release was made',
    });
  }
  const before = await verifyManifest(
    github,
    options.scope,
    entry,
    options.allowedSigners,
    options.now,
  );
  checkPreviousLink(release, before);
  return before;
}

/** A verified bundle's directory under `tempDir`: remove it when done. */
interface BundleDirectory {
  size: number;
  directory: string;
}

/** A bundle checked alone: the file, as the manifest describes it, byte for byte. */
export interface VerifiedBundle extends BundleDirectory {
  file: string;
  payload?: undefined;
}

/**
 * A bundle checked with `keep`: what the hosts get, the bundle's files and their index, recorded
 * in the pass that checked it, under `directory`, beside the bundle file (whose frames a full
 * transfer may send as they are).
 */
export interface KeptBundle extends BundleDirectory {
  payload: ReleasePayload;
  file?: undefined;
}

export interface VerifyBundleOptions {
  scope: LedgerScope;
  /** Where the bundle is downloaded to, in a directory of its own. */
  tempDir: string;
  log: Log;
  /** The most the bundle's tar may expand to; default {@link defaultMaxExpandedBytes}. */
  maxExpandedBytes?: number;
  /** Keep each checked file's bytes and the index for the hosts (`payload`); a check alone keeps none. */
  keep?: boolean;
}

/**
 * Downloads the bundle the manifest names into a directory under `tempDir`, checking it on the
 * way in one pass: its size and digest against the manifest, and every entry. The bundle is kept
 * as a file; with `keep`, each checked entry is also indexed and its bytes kept for the hosts, in
 * the same pass. Never more than the manifest's size and one byte is read: an asset that GitHub
 * says is larger is refused before its download. A bundle that differs from the
 * manifest is reported as such, even when its entries also fail the checks.
 */
export async function verifyBundle(
  github: GitHub,
  release: VerifiedManifest,
  options: VerifyBundleOptions & { keep: true },
): Promise<KeptBundle>;
export async function verifyBundle(
  github: GitHub,
  release: VerifiedManifest,
  options: VerifyBundleOptions & { keep?: false },
): Promise<VerifiedBundle>;
export async function verifyBundle(
  github: GitHub,
  release: VerifiedManifest,
  options: VerifyBundleOptions,
): Promise<VerifiedBundle | KeptBundle> {
  const { manifest, entry } = release;
  const { size: expectedSize, digest: expectedDigest, compression } = manifest.build;
  const name = bundleFileName(manifest.app, manifest.build.sha, compression);
  const bundleAsset = asset(entry, name);
  const replaced = (got: string) =>
    new ConfigurationError({
      subject: `${subjectOf(entry)}: the bundle ${name}`,
      expected: `${expectedDigest} (${expectedSize} bytes), as ${MANIFEST_ASSET} says`,
      got,
      hint: 'the asset was replaced or damaged',
    });
  if (bundleAsset.size !== expectedSize) throw replaced(`an asset of ${bundleAsset.size} bytes`);
  const directory = await mkdtemp(path.join(options.tempDir, 'run-bundle-'));
  let recorder: ContentRecorder | undefined;
  try {
    const file = path.join(directory, name);
    const content = path.join(directory, 'content');
    recorder = options.keep ? await ContentRecorder.create(content, file) : undefined;
    options.log.info(`Downloading ${name} (${bundleAsset.size} bytes)`);
    const { owner, repo } = options.scope;
    const body = await openAsset(github, { owner, repo }, bundleAsset.id);
    const cap = options.maxExpandedBytes ?? defaultMaxExpandedBytes(expectedSize);
    const checking = { compression, maxExpandedBytes: cap };
    const received = await receive(body, file, expectedSize + 1, async (bytes) => {
      if (recorder) return recorder.record(bytes, checking);
      for await (const checked of checkedEntries(bytes, checking)) void checked;
    });
    if (received.size > expectedSize) throw replaced(`more than ${expectedSize} bytes`);
    if (received.digest !== expectedDigest || received.size !== expectedSize) {
      throw replaced(`${received.digest} (${received.size} bytes)`);
    }
    if (received.refusal) throw concerning(entry, received.refusal);
    const size = received.size;
    if (recorder) {
      return { size, directory, payload: new ReleasePayload(await recorder.finish(), directory) };
    }
    return { file: path.join(directory, name), size, directory };
  } catch (error) {
    await recorder?.abort();
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}

export interface ReleaseConfig {
  /** Vars and decrypted secrets: what the release's `.env` holds. */
  env: Record<string, string>;
  secretNames: string[];
}

/**
 * The release's config: its vars, and its secrets decrypted with `identity`. Every secret value
 * (and each of its lines) is masked before anything else can print it. The `.env` is rendered
 * once here, so a value no .env can carry stops the run before any host is touched.
 */
export async function releaseConfig(
  release: VerifiedManifest,
  identity: string | undefined,
  log: Log,
): Promise<ReleaseConfig> {
  const { manifest, entry } = release;
  const secrets = manifest.config.secrets;
  let values: Record<string, string> = {};
  if (secrets !== null) {
    if (identity === undefined) {
      throw new ConfigurationError({
        input: 'identity',
        problem: `is required: ${subjectOf(entry)} has secrets (${secrets.names.join(', ')})`,
        hint: 'pass the age identity (AGE-SECRET-KEY-1…) they were encrypted to',
      });
    }
    values = await withSubject(entry, () => decryptSecrets(secrets.ciphertext, identity));
    for (const value of Object.values(values)) maskSecret(log, value);
    const decrypted = Object.keys(values).sort();
    if (decrypted.join('\n') !== secrets.names.join('\n')) {
      throw new ConfigurationError({
        subject: subjectOf(entry),
        problem: `its secrets decrypt to ${decrypted.join(', ') || 'nothing'}, but ${MANIFEST_ASSET} lists ${secrets.names.join(', ')}`,
      });
    }
  }
  const env = { ...manifest.config.vars, ...values };
  await withSubject(entry, () => renderEnvFile(env));
  return { env, secretNames: secrets?.names ?? [] };
}

/** Runs `work`, saying of any refusal which release it concerns. */
async function withSubject<T>(entry: LedgerEntry, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw concerning(entry, error);
  }
}
