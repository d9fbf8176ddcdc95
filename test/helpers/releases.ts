import { createReadStream } from 'node:fs';
import { cp, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { getOctokit } from '@actions/github';
import { packBundle } from '../../shared/bundle.js';
import { bundleFileName } from '../../shared/builds.js';
import type { GitHub } from '../../shared/github.js';
import { changeSummary, chainTo, serializeManifest, type Manifest } from '../../shared/manifest.js';
import { releaseTag } from '../../shared/names.js';
import { encryptSecrets, secretFingerprints } from '../../shared/secrets.js';
import { parseSigningKey, signMessage, type SigningKey } from '../../shared/signature.js';
import type { GitHubEmulator } from '../emulator/index.js';
import { ROOT } from './action.js';
import { ageKey, sshKey } from './keys.js';
import { scratchDir } from './scratch.js';

/*
 * Releases for run-action tests, published straight into the emulator as release-action
 * publishes them (draft, three assets, publish), built with the shared modules. A test can
 * alter any asset before it is published, to show that run refuses it.
 */

export interface SignerKeys {
  key: SigningKey;
  /** The OpenSSH private key text, as release-action's `signing-key` takes it. */
  privateKey: string;
  /** The line for allowed-signers. */
  allowedSigner: string;
}

export interface ReleaseKeys {
  signer: SignerKeys;
  /** The `allowed-signers` input naming `signer`. */
  allowedSigners: string;
  /** age identity (the `identity` input) and its recipient. */
  identity: string;
  recipient: string;
}

/** A signing key made by ssh-keygen, as a user makes one. */
export async function makeSigner(principal = 'ci@example.com'): Promise<SignerKeys> {
  const made = await sshKey('ed25519', principal);
  const key = parseSigningKey(made.privateKey);
  return {
    key,
    privateKey: made.privateKey,
    allowedSigner: `${principal} namespaces="build-release-run" ${key.publicKey}`,
  };
}

/** An age identity made by age-keygen. */
export async function makeIdentity(): Promise<{ identity: string; recipient: string }> {
  const { identity, recipient } = await ageKey();
  return { identity, recipient };
}

export async function makeKeys(): Promise<ReleaseKeys> {
  const [signer, identity] = await Promise.all([makeSigner(), makeIdentity()]);
  return { signer, allowedSigners: `${signer.allowedSigner}\n`, ...identity };
}

/** Files of a bundle: paths relative to its root, with content (a Buffer, or text). */
export type BundleTree = Record<string, string | Buffer | { content: string; mode: number }>;

/** The sample app (examples/app) plus `extra`, as a workspace to pack. */
export async function appTree(extra: BundleTree = {}): Promise<string> {
  const dir = await scratchDir('brr-app-');
  await cp(path.join(ROOT, 'examples/app'), dir, { recursive: true });
  await writeTree(dir, extra);
  return dir;
}

export async function writeTree(dir: string, tree: BundleTree): Promise<void> {
  for (const [name, value] of Object.entries(tree)) {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    if (typeof value === 'string' || Buffer.isBuffer(value)) await writeFile(file, value);
    else await writeFile(file, value.content, { mode: value.mode });
  }
}

export interface PackedBundle {
  file: string;
  digest: string;
  size: number;
}

/** Packs a directory as build-action does: reproducible zstd tar. */
export async function pack(dir: string, app: string, sha: string): Promise<PackedBundle> {
  const out = await scratchDir('brr-bundle-');
  const file = path.join(out, bundleFileName(app, sha, 'zstd'));
  const patterns = await readdir(dir);
  const result = await packBundle(
    { root: dir, compression: 'zstd', mtime: 1_700_000_000, patterns },
    file,
  );
  return { file, digest: result.digest, size: result.size };
}

export interface PublishOptions {
  repository: string;
  app: string;
  environment: string;
  id: string;
  sha: string;
  bundle: PackedBundle;
  vars?: Record<string, string>;
  secrets?: Record<string, string>;
  keys: ReleaseKeys;
  /** The release published before this one: the hash chain's link. */
  previous?: PublishedRelease;
  /** Changes to the assets after signing: what an attacker with write access could do. */
  tamper?: {
    manifest?: (bytes: Buffer) => Buffer;
    signature?: (manifestBytes: Buffer) => string;
    bundle?: PackedBundle;
  };
}

export interface PublishedRelease {
  id: string;
  tag: string;
  manifest: Manifest;
  manifestBytes: Buffer;
  signature: string;
  bundle: PackedBundle;
}

/** A client without the throttling plugin: its second between writes would make each release take seconds. */
export function emulatorClient(github: GitHubEmulator): GitHub {
  return getOctokit(github.token, { baseUrl: github.apiUrl });
}

async function upload(
  client: GitHub,
  uploadUrl: string,
  name: string,
  body: Buffer | { file: string },
  contentType: string,
): Promise<void> {
  // A bundle is streamed from its file (a 1 GB one must not sit in memory), with its length
  // said up front; a buffer's length fetch works out itself.
  const stream = Buffer.isBuffer(body)
    ? undefined
    : {
        data: Readable.toWeb(createReadStream(body.file)) as unknown as Buffer,
        length: String((await stat(body.file)).size),
      };
  await client.request({
    method: 'POST',
    // The URL template's {?name,label} takes `name` into the query.
    url: uploadUrl,
    name,
    data: stream?.data ?? body,
    headers: {
      'content-type': contentType,
      ...(stream ? { 'content-length': stream.length } : {}),
    },
    request: { duplex: 'half' },
  });
}

/** Publishes a signed release to the emulator: draft, the bundle, release.json and its signature, publish. */
export async function publishRelease(
  github: GitHubEmulator,
  options: PublishOptions,
): Promise<PublishedRelease> {
  const [owner = '', repo = ''] = options.repository.split('/');
  const secrets = options.secrets ?? {};
  const secretNames = Object.keys(secrets).sort();
  const manifest: Manifest = {
    schemaVersion: 1,
    app: options.app,
    environment: options.environment,
    id: options.id,
    created: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    actor: 'octocat',
    run: { id: 1, attempt: 1, url: `https://github.com/${options.repository}/actions/runs/1` },
    build: {
      sha: options.sha,
      digest: options.bundle.digest,
      size: options.bundle.size,
      compression: 'zstd',
      artifact: { id: 1, name: bundleFileName(options.app, options.sha, 'zstd') },
    },
    config: {
      vars: options.vars ?? {},
      secrets:
        secretNames.length > 0
          ? {
              names: secretNames,
              fingerprints: secretFingerprints(secrets, options.keys.signer.key),
              ciphertext: await encryptSecrets(secrets, [options.keys.recipient]),
            }
          : null,
    },
    previous: options.previous
      ? chainTo({ manifest: options.previous.manifest, bytes: options.previous.manifestBytes })
      : null,
    changes: '',
  };
  manifest.changes = changeSummary(options.previous?.manifest, manifest);
  const manifestBytes = Buffer.from(serializeManifest(manifest));
  const signature = signMessage(manifestBytes, options.keys.signer.key);

  const tamper = options.tamper ?? {};
  const publishedManifest = tamper.manifest ? tamper.manifest(manifestBytes) : manifestBytes;
  const publishedSignature = tamper.signature ? tamper.signature(manifestBytes) : signature;
  const publishedBundle = tamper.bundle ?? options.bundle;

  const client = emulatorClient(github);
  const tag = releaseTag(options.app, options.environment, options.id);
  const { data: draft } = await client.rest.repos.createRelease({
    owner,
    repo,
    tag_name: tag,
    target_commitish: options.sha,
    name: `${options.app} ${options.environment} ${options.id}`,
    draft: true,
  });
  await upload(
    client,
    draft.upload_url,
    manifest.build.artifact.name,
    { file: publishedBundle.file },
    'application/octet-stream',
  );
  await upload(client, draft.upload_url, 'release.json', publishedManifest, 'application/json');
  await upload(
    client,
    draft.upload_url,
    'release.json.sig',
    Buffer.from(publishedSignature),
    'text/plain',
  );
  await client.rest.repos.updateRelease({ owner, repo, release_id: draft.id, draft: false });
  return { id: options.id, tag, manifest, manifestBytes, signature, bundle: options.bundle };
}

/** A manifest's bytes with one config var changed, re-serialized: still valid JSON, no longer what was signed. */
export function withVar(bytes: Buffer, name: string, value: string): Buffer {
  const manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
  manifest.config.vars[name] = value;
  return Buffer.from(serializeManifest(manifest));
}
