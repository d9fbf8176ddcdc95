import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { checkedEntries } from './bundle.js';
import { ContentRecorder } from './bundle/content.js';
import { ReleasePayload } from './bundle/payload.js';
import { bundleFileName } from './builds.js';
import { renderEnvFile } from './dotenv.js';
import { ConfigurationError } from './errors.js';
import type { GitHub, Repository } from './github.js';
import { downloadAsset, openAsset, type LedgerEntry, type LedgerScope } from './ledger.js';
import type { Log } from './log.js';
import {
  digestOf,
  MANIFEST_ASSET,
  parseManifest,
  SIGNATURE_ASSET,
  type Manifest,
} from './manifest.js';
import { decryptSecrets, maskSecret } from './secrets.js';
import {
  SIGNATURE_NAMESPACE,
  verifyMessage,
  type AllowedSigner,
  type VerifiedSignature,
} from './signature.js';

/*
 * A release is trusted only after these checks, all made before any host is touched: the
 * signature of release.json against allowed-signers, the manifest naming the release that was
 * asked for, the bundle's digest against the manifest, the secrets decrypting to the names the
 * manifest lists. Each refusal is a ConfigurationError naming the release and what differs.
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

function asset(entry: LedgerEntry, name: string): LedgerEntry['assets'][number] {
  const found = entry.assets.find((candidate) => candidate.name === name);
  if (!found) {
    throw new ConfigurationError(
      `release ${entry.tag} has no ${name} asset: it was not made by build-release-run, or is incomplete`,
    );
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
      throw new ConfigurationError(
        `release ${entry.tag}: ${small.name} is ${small.size} bytes, too large to be one`,
      );
    }
  }
  const [bytes, signature] = await Promise.all([
    downloadAsset(github, repository, manifestAsset.id),
    downloadAsset(github, repository, signatureAsset.id),
  ]);
  let signer: VerifiedSignature;
  try {
    signer = verifyMessage(
      bytes,
      signature.toString('utf8'),
      allowedSigners,
      SIGNATURE_NAMESPACE,
      now,
    );
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw new ConfigurationError(
      `release ${entry.tag} is not trusted: ${SIGNATURE_ASSET}: ${error.message.replace(/^signature: /, '')}`,
    );
  }
  const manifest = parseManifest(bytes, `${entry.tag} ${MANIFEST_ASSET}`);
  const asked = `${scope.app}/${scope.environment}/${entry.id}`;
  const named = `${manifest.app}/${manifest.environment}/${manifest.id}`;
  if (named !== asked) {
    throw new ConfigurationError(
      `release ${entry.tag}: its signed ${MANIFEST_ASSET} is for ${named}, not ${asked}; it was published under the wrong tag`,
    );
  }
  return { entry, manifest, bytes, signature, digest: digestOf(bytes), signer };
}

export interface VerifiedBundle {
  size: number;
  /**
   * What the hosts get: the bundle's files and their index, recorded in the pass that checked
   * it (when asked for). Its files are under `directory`; remove it when done.
   */
  payload: ReleasePayload | undefined;
  directory: string | undefined;
}

export interface BundleOptions {
  scope: LedgerScope;
  /** Where the bundle's content is kept for the hosts. */
  tempDir: string;
  log: Log;
  /** Keep the content and index for the hosts; a check alone keeps nothing. */
  keep: boolean;
}

/**
 * Downloads the bundle the manifest names and checks it in one pass: its size and digest
 * against the manifest, and every entry; with `keep`, each checked entry is indexed and its
 * bytes kept in the same pass, for the hosts. A bundle that differs from the manifest is
 * reported as such, even when its entries also fail the checks.
 */
export async function verifyBundle(
  github: GitHub,
  release: VerifiedManifest,
  options: BundleOptions,
): Promise<VerifiedBundle> {
  const { manifest, entry } = release;
  const { scope, log } = options;
  const name = bundleFileName(manifest.app, manifest.build.sha, manifest.build.compression);
  const bundleAsset = asset(entry, name);
  const directory = options.keep
    ? await mkdtemp(path.join(options.tempDir, 'run-bundle-'))
    : undefined;
  let recorder: ContentRecorder | undefined;
  try {
    log.info(`Downloading ${name} (${bundleAsset.size} bytes)`);
    const body = await openAsset(github, { owner: scope.owner, repo: scope.repo }, bundleAsset.id);
    if (directory) recorder = await ContentRecorder.create(path.join(directory, 'content'));
    const hash = createHash('sha256');
    let size = 0;
    // Past what both the manifest and GitHub say it holds, the rest is not worth reading.
    const limit = Math.max(manifest.build.size, bundleAsset.size) + 1;
    async function* incoming(): AsyncGenerator<Buffer> {
      for await (const chunk of body) {
        const bytes = chunk as Buffer;
        hash.update(bytes);
        size += bytes.length;
        yield bytes;
        if (size >= limit) return;
      }
    }
    const source = incoming();
    // Without return(), a refusal mid-bundle cannot close the download: its rest still counts.
    const unclosable: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => ({ next: () => source.next() }),
    };
    let refusal: ConfigurationError | undefined;
    try {
      for await (const checked of checkedEntries(unclosable, {
        compression: manifest.build.compression,
      })) {
        await recorder?.add(checked);
      }
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error;
      refusal = error;
    }
    for await (const rest of source) void rest;
    body.destroy();
    const digest = `sha256:${hash.digest('hex')}`;
    if (digest !== manifest.build.digest || size !== manifest.build.size) {
      const got =
        size >= limit ? `more than ${manifest.build.size} bytes` : `${digest} (${size} bytes)`;
      throw new ConfigurationError({
        subject: `release ${entry.tag}`,
        problem: `the bundle ${name} is ${got} but ${MANIFEST_ASSET} says ${manifest.build.digest} (${manifest.build.size} bytes)`,
        hint: 'the asset was replaced or damaged',
      });
    }
    if (refusal) {
      throw new ConfigurationError({ subject: `release ${entry.tag}`, problem: refusal.message });
    }
    const content = await recorder?.finish();
    const payload = content && directory ? new ReleasePayload(content, directory) : undefined;
    return { size, payload, directory };
  } catch (error) {
    await recorder?.abort();
    if (directory) await rm(directory, { recursive: true, force: true });
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
      throw new ConfigurationError(
        `Input 'identity' is required: release ${entry.tag} has secrets (${secrets.names.join(', ')}); pass the age identity (AGE-SECRET-KEY-1…) they were encrypted to`,
      );
    }
    values = await decryptSecrets(secrets.ciphertext, identity);
    for (const value of Object.values(values)) maskSecret(log, value);
    const decrypted = Object.keys(values).sort();
    if (decrypted.join('\n') !== secrets.names.join('\n')) {
      throw new ConfigurationError(
        `release ${entry.tag}: its secrets decrypt to ${decrypted.join(', ') || 'nothing'}, but ${MANIFEST_ASSET} lists ${secrets.names.join(', ')}`,
      );
    }
  }
  const env = { ...manifest.config.vars, ...values };
  try {
    renderEnvFile(env);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw new ConfigurationError(`release ${entry.tag}: ${error.message}`);
  }
  return { env, secretNames: secrets?.names ?? [] };
}
