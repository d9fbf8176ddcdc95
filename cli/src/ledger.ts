import {
  ConfigurationError,
  downloadAsset,
  digestOf,
  findRelease,
  gitHubClient,
  MANIFEST_ASSET,
  parseManifest,
  releaseNumber,
  releaseTag,
  statusOf,
  verifyManifest,
  type AllowedSigner,
  type GitHub,
  type LedgerEntry,
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

/** A numbered tag of the ledger: `<app>/<environment>/v<N>`. */
export interface LedgerTag {
  id: string;
  number: number;
  tag: string;
}

/**
 * The ledger's index: every `v<N>` tag in one `git/matching-refs` request (GitHub answers all
 * matching refs at once), lowest first. Releases with other IDs stand outside the numbered line.
 */
export async function ledgerTags(ledger: Ledger): Promise<LedgerTag[]> {
  const { owner, repo, app, environment } = ledger.scope;
  const prefix = releaseTag(app, environment, '');
  let data: { ref: string }[];
  try {
    ({ data } = await ledger.github.rest.git.listMatchingRefs({
      owner,
      repo,
      ref: `tags/${prefix}v`,
    }));
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
    throw new ConfigurationError({
      subject: `repository ${owner}/${repo}`,
      problem: 'not found on GitHub, or the token cannot read it',
      hint: 'check --repo (default: the remote origin) and the token',
    });
  }
  const tags: LedgerTag[] = [];
  for (const ref of data) {
    const tag = ref.ref.slice('refs/tags/'.length);
    const id = tag.slice(prefix.length);
    const number = releaseNumber(id);
    if (number !== undefined) tags.push({ id, number, tag });
  }
  return tags.sort((a, b) => a.number - b.number);
}

/** The index, refusing an empty one: a misspelt environment or app has no tags at all. */
export async function requireTags(ledger: Ledger): Promise<LedgerTag[]> {
  const tags = await ledgerTags(ledger);
  if (tags.length === 0) {
    const { owner, repo } = ledger.scope;
    throw new ConfigurationError({
      subject: `ledger ${ledgerName(ledger)} of ${owner}/${repo}`,
      problem: `has no releases (no tag ${releaseTag(ledger.scope.app, ledger.scope.environment, 'v*')})`,
      hint: "check the environment's name, and --app (default: the repository's name)",
    });
  }
  return tags;
}

/** How far `latest` looks past tags whose release is still being made or was given up. */
const LATEST_WALK = 10;

/** A published release by ID (`latest`: the newest published one), or a one-line refusal. */
export async function requireRelease(ledger: Ledger, id: string): Promise<LedgerEntry> {
  if (id === 'latest') {
    const tags = await requireTags(ledger);
    for (const tag of tags.slice(-LATEST_WALK).reverse()) {
      const entry = await findRelease(ledger.github, ledger.scope, tag.id);
      if (entry) return entry;
    }
    throw new ConfigurationError({
      subject: `ledger ${ledgerName(ledger)}`,
      problem: `none of its newest ${LATEST_WALK} tags has a published release`,
    });
  }
  const entry = await findRelease(ledger.github, ledger.scope, id);
  if (entry) return entry;
  const tags = await requireTags(ledger);
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
