import {
  ConfigurationError,
  findRelease,
  MANIFEST_ASSET,
  printable,
  releaseTag,
  SIGNATURE_ASSET,
  statusOf,
  verifyManifest,
  verifySignedManifest,
  type AllowedSigner,
  type HostState,
  type Manifest,
} from '../core.js';
import type { Ledger } from '../ledger.js';
import { deployHint } from './target.js';

/** The release a rollback makes current, its release.json checked against the allowed signers. */
export interface TrustedRelease {
  id: string;
  manifest: Manifest;
  /** release.json, byte for byte as signed: every host must hold exactly this. */
  bytes: Buffer;
  digest: string;
  signer: string;
  /** Where the signed release.json came from: the ledger on GitHub, or the hosts' copies. */
  checkedAgainst: 'ledger' | 'hosts';
  /** The release on GitHub; null when it was not reachable. */
  url: string | null;
}

/** How long GitHub has to answer before the rollback goes on without it. */
const PROBE_MS = 10_000;

/** Why GitHub gave no usable answer (no connection, a timeout, a 5xx), or undefined if it did. */
function unavailable(error: unknown): string | undefined {
  if (error instanceof ConfigurationError) return undefined;
  const answered =
    typeof error === 'object' && error !== null && 'response' in error && error.response;
  const status = statusOf(error);
  if (answered) return status !== undefined && status >= 500 ? `it answered ${status}` : undefined;
  const cause = (error as { cause?: { cause?: { code?: unknown }; code?: unknown } }).cause;
  const code = cause?.cause?.code ?? cause?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? printable(error.message, 200) : 'no answer';
}

/**
 * Whether GitHub answers, asked once, quickly and without retries: the rollback must not wait on
 * a GitHub that is down. Its refusals (a bad token, an unknown repository) are errors as usual.
 */
export async function gitHubUnavailable(ledger: Ledger): Promise<string | undefined> {
  const { owner, repo } = ledger.scope;
  try {
    await ledger.github.rest.repos.get({
      owner,
      repo,
      request: { retries: 0, signal: AbortSignal.timeout(PROBE_MS) },
    });
    return undefined;
  } catch (error) {
    const reason = unavailable(error);
    if (reason !== undefined) return reason;
    if (statusOf(error) === 404) {
      throw new ConfigurationError({
        subject: `repository ${owner}/${repo}`,
        problem: 'not found on GitHub, or the token cannot read it',
        hint: 'check --repo (default: the remote origin) and the token',
      });
    }
    throw error;
  }
}

function copyOf(state: HostState, id: string) {
  const copy = state.releases.find((release) => release.id === id);
  if (!copy) throw new Error(`${state.host} has no releases/${id}`);
  return copy;
}

/**
 * The release as the ledger holds it (signature checked), and each host's copy byte-identical
 * to it: what run-action checks before it rolls back.
 */
export async function trustFromLedger(
  ledger: Ledger,
  id: string,
  options: { states: readonly HostState[]; allowedSigners: readonly AllowedSigner[] },
): Promise<TrustedRelease> {
  const { scope } = ledger;
  const entry = await findRelease(ledger.github, scope, id);
  if (!entry) {
    throw new ConfigurationError({
      subject: `release ${releaseTag(scope.app, scope.environment, id)}`,
      problem: 'is on the hosts but not published in the ledger',
      hint: `check brr releases ${scope.environment}`,
    });
  }
  const verified = await verifyManifest(ledger.github, scope, entry, options.allowedSigners);
  for (const state of options.states) {
    const held = copyOf(state, id).manifestDigest;
    if (held !== verified.digest) {
      throw new ConfigurationError({
        subject: `host ${state.host}`,
        problem: `releases/${id} does not hold the signed ${MANIFEST_ASSET} of ${entry.tag} (${held ?? 'none'}, the ledger's is ${verified.digest})`,
        hint: deployHint(scope, id),
      });
    }
  }
  return {
    id,
    manifest: verified.manifest,
    bytes: verified.bytes,
    digest: verified.digest,
    signer: verified.signer.principal,
    checkedAgainst: 'ledger',
    url: entry.url,
  };
}

/** One host's copy of the release: its own signature checked, and the names it was signed for. */
function trustCopy(
  state: HostState,
  id: string,
  options: { app: string; environment: string; allowedSigners: readonly AllowedSigner[] },
) {
  const copy = copyOf(state, id);
  const subject = `host ${state.host}: releases/${id}`;
  if (!copy.manifest || !copy.signature) {
    throw new ConfigurationError({
      subject,
      problem: `has no .release/${copy.manifest ? SIGNATURE_ASSET : MANIFEST_ASSET}`,
      hint: 'without GitHub, only a signed copy on the host can be trusted',
    });
  }
  const checked = verifySignedManifest(
    { bytes: copy.manifest, signature: copy.signature },
    { app: options.app, environment: options.environment, id },
    {
      allowedSigners: options.allowedSigners,
      source: { subject, manifest: `${subject}/.release/${MANIFEST_ASSET}` },
    },
  );
  return { ...checked, signer: checked.signer.principal };
}

/**
 * Without GitHub: each host's copy of release.json checked against its release.json.sig and the
 * allowed signers, and every host holding the same bytes.
 */
export function trustFromHosts(
  states: readonly HostState[],
  id: string,
  options: { app: string; environment: string; allowedSigners: readonly AllowedSigner[] },
): TrustedRelease {
  const copies = states.map((state) => ({ host: state.host, ...trustCopy(state, id, options) }));
  const first = copies[0]!;
  const differ = copies.filter((copy) => copy.digest !== first.digest);
  if (differ.length > 0) {
    throw new ConfigurationError({
      subject: `release ${releaseTag(options.app, options.environment, id)}`,
      problem: `the hosts hold different signed ${MANIFEST_ASSET} files for it: ${copies.map((copy) => `${copy.host} ${copy.digest}`).join(', ')}`,
      hint: 'roll back with GitHub reachable, so the ledger says which one is the release',
    });
  }
  const { manifest, bytes, digest, signer } = first;
  return { id, manifest, bytes, digest, signer, checkedAgainst: 'hosts', url: null };
}
