import {
  ConfigurationError,
  downloadAsset,
  digestOf,
  findRelease,
  gitHubClient,
  MANIFEST_ASSET,
  latestRelease,
  parseManifest,
  readIndex,
  releaseTag,
  statusOf,
  verifyManifest,
  type AllowedSigner,
  type GitHub,
  type LedgerEntry,
  type LedgerIndex,
  type LedgerScope,
  type Log,
  type Manifest,
} from './core.js';
import type { Settings } from './settings.js';

/** One app and environment of one repository, and the client that reads it. */
export interface Ledger {
  github: GitHub;
  scope: LedgerScope;
}

export function openLedger(settings: Settings, environment: string, log: Log): Ledger {
  const github = gitHubClient({ token: settings.token.value, apiUrl: settings.apiUrl, log });
  // GitHub's refusal of the token, said as what to fix: which token it was.
  github.hook.error('request', (error) => {
    if (statusOf(error) !== 401) throw error;
    throw new ConfigurationError({
      input: settings.token.source,
      problem: `GitHub (${settings.apiUrl}) refused this token: 401 Bad credentials`,
      hint: 'give a valid token: --token, GITHUB_TOKEN, or gh auth login',
    });
  });
  return { github, scope: { ...settings.repository, app: settings.app, environment } };
}

export function ledgerName(ledger: Ledger): string {
  return `${ledger.scope.app}/${ledger.scope.environment}`;
}

/**
 * The ledger's index (every `v<N>` tag, lowest first, in one request), refusing an empty one: a
 * misspelt environment or app has no tags at all.
 */
export async function requireIndex(ledger: Ledger): Promise<LedgerIndex> {
  const { owner, repo } = ledger.scope;
  let index: LedgerIndex;
  try {
    index = await readIndex(ledger.github, ledger.scope);
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
    throw new ConfigurationError({
      subject: `repository ${owner}/${repo}`,
      problem: 'not found on GitHub, or the token cannot read it',
      hint: 'check --repo (default: the remote origin) and the token',
    });
  }
  if (index.tags.length === 0) {
    throw new ConfigurationError({
      subject: `ledger ${ledgerName(ledger)} of ${owner}/${repo}`,
      problem: `has no releases (no tag ${releaseTag(ledger.scope.app, ledger.scope.environment, 'v*')})`,
      hint: "check the environment's name, and --app (default: the repository's name)",
    });
  }
  return index;
}

/** A published release by ID (`latest`: the newest published one), or a one-line refusal. */
export async function requireRelease(ledger: Ledger, id: string): Promise<LedgerEntry> {
  if (id === 'latest') {
    const index = await requireIndex(ledger);
    const latest = await latestRelease(ledger.github, ledger.scope, index);
    if (latest) return latest;
    const { tags } = index;
    throw new ConfigurationError({
      subject: `ledger ${ledgerName(ledger)}`,
      problem: `none of its tags (${tags[0]?.id} to ${tags.at(-1)?.id}) has a published release`,
    });
  }
  const entry = await findRelease(ledger.github, ledger.scope, id);
  if (entry) return entry;
  const { tags } = await requireIndex(ledger);
  throw new ConfigurationError({
    subject: `release ${releaseTag(ledger.scope.app, ledger.scope.environment, id)}`,
    problem: 'is not published',
    hint: `the ledger runs from ${tags[0]?.id} to ${tags.at(-1)?.id} (brr releases ${ledger.scope.environment})`,
  });
}

/** release.json as read from a release, and who signed it when allowed signers were given. */
export interface ReadManifest {
  entry: LedgerEntry;
  manifest: Manifest;
  bytes: Uint8Array;
  /** sha256 of release.json: what the next release's `previous` link records. */
  digest: string;
  /** The principal whose key signed it; undefined when signatures were not checked. */
  signer: string | undefined;
}

/**
 * Reads a release's manifest. With allowed signers, its signature and names are checked first
 * (and a refusal is thrown); without, it is read as published.
 */
export async function readManifest(
  ledger: Ledger,
  entry: LedgerEntry,
  allowedSigners: readonly AllowedSigner[] | undefined,
): Promise<ReadManifest> {
  if (allowedSigners !== undefined) {
    const verified = await verifyManifest(ledger.github, ledger.scope, entry, allowedSigners);
    return { ...verified, signer: verified.signer.principal };
  }
  const asset = entry.assets.find((candidate) => candidate.name === MANIFEST_ASSET);
  if (!asset) {
    throw new ConfigurationError({
      subject: `release ${entry.tag}`,
      problem: `has no ${MANIFEST_ASSET}: it was not made by build-release-run, or is incomplete`,
    });
  }
  const { owner, repo } = ledger.scope;
  const bytes = await downloadAsset(ledger.github, { owner, repo }, asset.id);
  const manifest = parseManifest(bytes, `${entry.tag} ${MANIFEST_ASSET}`);
  return { entry, manifest, bytes, digest: digestOf(bytes), signer: undefined };
}
