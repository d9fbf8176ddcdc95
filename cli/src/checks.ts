import { rm } from 'node:fs/promises';
import {
  findRelease,
  verifyBundle,
  verifyChain,
  verifyManifest,
  ConfigurationError,
  type AllowedSigner,
  type Manifest,
  type Log,
  type VerifiedManifest,
} from './core.js';
import type { Ledger } from './ledger.js';

/*
 * The shared checks of a release, in the shape brr calls them: what run-action checks before it
 * touches a host, so `brr verify` and a deploy agree on what a good release is.
 */

/** A release.json and its exact bytes. */
export interface Stored {
  manifest: Manifest;
  bytes: Uint8Array;
}

/** One link of the chain: `release` records `before`'s ID and release.json digest. */
export function checkLink(release: Stored, before: Stored): void {
  verifyChain([before, release]);
}

/**
 * The link of a verified release to the one it names as previous: that release is published,
 * signed by an allowed signer, and its release.json has the recorded digest. Returns it, or
 * undefined for a release that names none.
 */
export async function checkPreviousLink(
  ledger: Ledger,
  release: VerifiedManifest,
  allowedSigners: readonly AllowedSigner[],
): Promise<VerifiedManifest | undefined> {
  const link = release.manifest.previous;
  if (link === null) return undefined;
  const entry = await findRelease(ledger.github, ledger.scope, link.id);
  if (!entry) {
    throw new ConfigurationError({
      subject: `release ${release.entry.tag}`,
      problem: `names ${link.id} as its previous release, but the ledger has no published release ${link.id}`,
      hint: 'the ledger was changed after this release was made',
    });
  }
  const before = await verifyManifest(ledger.github, ledger.scope, entry, allowedSigners);
  checkLink(release, before);
  return before;
}

/** Downloads the release's bundle and checks its digest, size and entries; keeps nothing. */
export async function checkBundle(
  ledger: Ledger,
  release: VerifiedManifest,
  options: { tempDir: string; log: Log },
): Promise<void> {
  const bundle = await verifyBundle(ledger.github, release, { scope: ledger.scope, ...options });
  await rm(bundle.directory, { recursive: true, force: true });
}
