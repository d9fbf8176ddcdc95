import { rm } from 'node:fs/promises';
import {
  checkPreviousLink,
  ConfigurationError,
  downloadAsset,
  findRelease,
  formatError,
  mapLimit,
  MANIFEST_ASSET,
  parseManifest,
  verifyBundle,
  verifyManifest,
  verifyPreviousLink,
  type AllowedSigner,
  type LedgerEntry,
  type Log,
  type Manifest,
  type StoredManifest,
  type VerifiedManifest,
} from './core.js';
import { requireIndex, requireRelease, type Ledger } from './ledger.js';

export type Outcome = 'ok' | 'failed' | 'not checked';

/** What `verify` found for one release. */
export interface ReleaseCheck {
  id: string;
  tag: string;
  signature: Outcome;
  /** The allowed signer whose key signed release.json. */
  signer: string | null;
  /** Its `previous` link against the release before it. */
  chain: Outcome;
  previous: Manifest['previous'];
  bundle: Outcome;
  /** The first check that failed, as one line. */
  problem: string | null;
}

export interface VerifyOptions {
  allowedSigners: readonly AllowedSigner[];
  bundles: boolean;
  tempDir: string;
  log: Log;
}

/** Runs a check; a user-facing refusal becomes its one line, anything else stays an error. */
async function attempt(check: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await check();
    return undefined;
  } catch (error) {
    if (error instanceof ConfigurationError) return formatError(error);
    throw error;
  }
}

function blank(entry: LedgerEntry): ReleaseCheck {
  return {
    id: entry.id,
    tag: entry.tag,
    signature: 'not checked',
    signer: null,
    chain: 'not checked',
    previous: null,
    bundle: 'not checked',
    problem: null,
  };
}

/** A release's manifest checked against the allowed signers, or why it was refused. */
async function signed(
  ledger: Ledger,
  entry: LedgerEntry,
  check: ReleaseCheck,
  options: VerifyOptions,
): Promise<VerifiedManifest | undefined> {
  let verified: VerifiedManifest | undefined;
  const problem = await attempt(async () => {
    verified = await verifyManifest(ledger.github, ledger.scope, entry, options.allowedSigners);
  });
  check.signature = verified ? 'ok' : 'failed';
  check.problem ??= problem ?? null;
  if (verified) {
    check.signer = verified.signer.principal;
    check.previous = verified.manifest.previous;
  }
  return verified;
}

async function bundleOf(
  ledger: Ledger,
  verified: VerifiedManifest | undefined,
  check: ReleaseCheck,
  options: VerifyOptions,
): Promise<void> {
  if (!options.bundles || !verified) return;
  const problem = await attempt(async () => {
    // Downloaded, its digest, size and every entry checked, and nothing kept.
    const { tempDir, log } = options;
    const bundle = await verifyBundle(ledger.github, verified, {
      scope: ledger.scope,
      tempDir,
      log,
    });
    await rm(bundle.directory, { recursive: true, force: true });
  });
  check.bundle = problem === undefined ? 'ok' : 'failed';
  check.problem ??= problem ?? null;
}

/** One release: its signature, its link to the release it names, and with `bundles` its bundle. */
export async function verifyRelease(
  ledger: Ledger,
  id: string,
  options: VerifyOptions,
): Promise<ReleaseCheck> {
  const entry = await requireRelease(ledger, id);
  const check = blank(entry);
  const verified = await signed(ledger, entry, check, options);
  if (verified) {
    const { scope } = ledger;
    const problem = await attempt(() =>
      verifyPreviousLink(ledger.github, verified, {
        scope,
        allowedSigners: options.allowedSigners,
      }),
    );
    check.chain = problem === undefined ? 'ok' : 'failed';
    check.problem ??= problem ?? null;
  }
  await bundleOf(ledger, verified, check, options);
  return check;
}

/** A release as loaded for the walk: checked when its signature held, else its bare bytes. */
interface Loaded {
  entry: LedgerEntry;
  check: ReleaseCheck;
  verified: VerifiedManifest | undefined;
  /** release.json as published, for the link of the release after it. */
  stored: StoredManifest | undefined;
}

async function asPublished(
  ledger: Ledger,
  entry: LedgerEntry,
): Promise<StoredManifest | undefined> {
  const asset = entry.assets.find((candidate) => candidate.name === MANIFEST_ASSET);
  if (!asset) return undefined;
  const { owner, repo } = ledger.scope;
  const bytes = await downloadAsset(ledger.github, { owner, repo }, asset.id);
  try {
    return { manifest: parseManifest(bytes), bytes };
  } catch (error) {
    if (error instanceof ConfigurationError) return undefined;
    throw error;
  }
}

/** Requests at once while the ledger is read. */
const READS_AT_ONCE = 8;

async function loadAll(ledger: Ledger, options: VerifyOptions) {
  const { tags } = await requireIndex(ledger);
  const settled = await mapLimit(tags, READS_AT_ONCE, async (tag) => {
    const entry = await findRelease(ledger.github, ledger.scope, tag.id);
    if (!entry) return tag.id;
    const check = blank(entry);
    const verified = await signed(ledger, entry, check, options);
    const stored = verified ?? (await asPublished(ledger, entry));
    return { entry, check, verified, stored } satisfies Loaded;
  });
  const loaded: Loaded[] = [];
  const unpublished: string[] = [];
  for (const outcome of settled) {
    if (outcome.status === 'rejected') throw outcome.reason;
    if (typeof outcome.value === 'string') unpublished.push(outcome.value);
    else loaded.push(outcome.value);
  }
  return { loaded, unpublished };
}

function linkOf(release: Loaded, before: Loaded | undefined): string | undefined {
  const link = release.verified?.manifest.previous;
  if (before === undefined) {
    if (link === null) return undefined;
    return `release ${release.entry.tag}: names ${link?.id} as its previous release, but no release before it is published`;
  }
  if (!before.stored) {
    return `release ${release.entry.tag}: its previous release ${before.entry.id} has no readable ${MANIFEST_ASSET}`;
  }
  try {
    checkPreviousLink(release.verified!, before.stored);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigurationError) return formatError(error);
    throw error;
  }
}

/**
 * Every published release of the numbered ledger, oldest first: each signature, each link to
 * the published release before it (the first names none), and with `bundles` each bundle.
 */
export async function verifyLedger(
  ledger: Ledger,
  options: VerifyOptions,
): Promise<{ checks: ReleaseCheck[]; unpublished: string[] }> {
  const { loaded, unpublished } = await loadAll(ledger, options);
  for (const [index, release] of loaded.entries()) {
    if (!release.verified) continue;
    const problem = linkOf(release, loaded[index - 1]);
    release.check.chain = problem === undefined ? 'ok' : 'failed';
    release.check.problem ??= problem ?? null;
  }
  // One at a time: each bundle can be large.
  for (const release of loaded) await bundleOf(ledger, release.verified, release.check, options);
  return { checks: loaded.map((release) => release.check), unpublished };
}
