import { rm } from 'node:fs/promises';
import { ConfigurationError } from '../errors.js';
import type { GitHub } from '../github.js';
import type { HostState } from '../host/state.js';
import type { HostRelease } from '../host/transfer.js';
import { findRelease, latestRelease, type LedgerEntry, type LedgerScope } from '../ledger.js';
import type { Log } from '../log.js';
import type { AllowedSigner } from '../signature.js';
import { checkNotBackwards, hostStates } from './order.js';
import {
  releaseConfig,
  verifyBundle,
  verifyManifest,
  verifyPreviousLink,
  type ChainOptions,
  type VerifiedManifest,
} from '../verify.js';
import { MANIFEST_ASSET } from '../manifest.js';
import { code } from '../markdown.js';
import type { Checklist } from './checklist.js';
import type { Fleet } from './connect.js';

/** `latest` or an explicit ID, looked up in the ledger: published releases only. */
async function resolveFromLedger(
  github: GitHub,
  scope: LedgerScope,
  selector: string,
): Promise<LedgerEntry> {
  const where = `${scope.app}/${scope.environment}`;
  if (selector === 'latest') {
    const latest = await latestRelease(github, scope);
    if (!latest) {
      throw new ConfigurationError({
        input: 'release-id',
        problem: `${where} has no published release yet`,
        hint: 'run release-action first',
      });
    }
    return latest;
  }
  const entry = await findRelease(github, scope, selector);
  if (!entry) {
    throw new ConfigurationError({
      input: 'release-id',
      problem: `${where} has no published release ${selector} (no GitHub Release tagged ${where}/${selector})`,
    });
  }
  return entry;
}

/**
 * What `previous` means on these hosts: the last good release before the current one, from each
 * host's history. Every host must name the same one, else going back would split the fleet.
 */
export function previousFromHosts(states: readonly HostState[]): {
  id: string;
  current: string | undefined;
} {
  const ids = new Set(states.map((state) => state.previous));
  const currents = new Set(states.map((state) => state.current));
  if (ids.size > 1 || currents.size > 1) {
    const described = states
      .map(
        (state) =>
          `${state.host} is on ${state.current ?? 'nothing'}, previous ${state.previous ?? 'none'}`,
      )
      .join('; ');
    throw new ConfigurationError({
      input: 'release-id',
      problem: `previous: the hosts disagree (${described})`,
      hint: 'deploy an explicit release-id to bring them together',
    });
  }
  const missing = states.filter((state) => state.previous === undefined);
  if (missing.length > 0) {
    const described = missing
      .map((state) =>
        state.current === undefined
          ? `${state.host} has nothing deployed`
          : `${state.host} has no good release before ${state.current} left on it`,
      )
      .join('; ');
    throw new ConfigurationError({
      input: 'release-id',
      problem: `previous: ${described}`,
      hint: 'deploy an explicit release-id instead',
    });
  }
  return { id: states[0]!.previous!, current: states[0]!.current };
}

export interface ResolveOptions {
  github: GitHub;
  scope: LedgerScope;
  /** The `release-id` input: `latest`, `previous` or an ID. */
  selector: string;
  allowedSigners: readonly AllowedSigner[];
  /** The `identity` input, for the release's secrets. */
  identity: string | undefined;
  /** The `max-unpacked-size` input: the most the bundle may expand to; a default by its size. */
  maxExpandedBytes: number | undefined;
  /** Where the bundle is downloaded to. */
  tempDir: string;
  /** The hosts: only `previous` reads them, since only they know what it is. */
  fleet: Fleet;
  root: string;
  log: Log;
  /** Where each check that passed is noted, for the summary of a run that stops early. */
  checklist: Checklist;
}

/** A release checked from end to end before any host changes. */
export interface ResolvedRelease {
  verified: VerifiedManifest;
  /** `previous`: made current again from what is on the hosts, nothing uploaded. */
  rollback: boolean;
  /** For a deploy, the release as each host receives it. */
  hostRelease: HostRelease | undefined;
  /** The values of its secrets, decrypted: kept out of what the step writes. */
  secretValues: string[];
  /** Removes the downloaded bundle. */
  dispose(): Promise<void>;
}

/**
 * Finds the release the step deploys and verifies it: release.json signed by an allowed signer,
 * its link in the ledger, the bundle's digest and entries, its secrets decrypted. For `previous`
 * it asks the hosts what that is, and checks each holds the signed release.json.
 */
export async function resolveRelease(options: ResolveOptions): Promise<ResolvedRelease> {
  const { log, checklist } = options;
  if (options.selector === 'previous') {
    const verified = await resolvePrevious(options);
    return {
      verified,
      rollback: true,
      hostRelease: undefined,
      secretValues: [],
      dispose: () => Promise.resolve(),
    };
  }
  const { github, scope, allowedSigners, maxExpandedBytes } = options;
  const entry = await resolveFromLedger(github, scope, options.selector);
  checklist.pass(`release ${entry.id} found in the ledger: [${entry.tag}](${entry.url})`);
  const verified = await verifyManifest(github, scope, entry, allowedSigners);
  const { manifest } = verified;
  checklist.pass(`${MANIFEST_ASSET} signed by ${code(verified.signer.principal)}`);
  describeRelease(verified, log);
  await checkLink(github, verified, { scope, allowedSigners });
  if (verified.manifest.previous !== null) {
    checklist.pass(`the link to ${verified.manifest.previous.id}: its digest and signature`);
  }
  if (options.selector === 'latest') await checkNotBackwards(options, verified);
  const bundle = await verifyBundle(github, verified, {
    scope,
    tempDir: options.tempDir,
    log,
    keep: true,
    ...(maxExpandedBytes !== undefined ? { maxExpandedBytes } : {}),
  });
  checklist.pass(`the bundle: its digest ${code(manifest.build.digest)} and every entry`);
  const { payload } = bundle;
  const dispose = () => rm(bundle.directory, { recursive: true, force: true });
  try {
    const config = await releaseConfig(verified, options.identity, log);
    const secrets = config.secretNames.length;
    checklist.pass(`the config: ${secrets} secret${secrets === 1 ? '' : 's'} decrypted`);
    log.info(
      `Verified ${entry.tag}: bundle ${manifest.build.digest}, ${config.secretNames.length} secrets decrypted`,
    );
    const hostRelease: HostRelease = {
      id: manifest.id,
      digest: manifest.build.digest,
      manifestBytes: verified.bytes,
      signatureBytes: verified.signature,
      env: config.env,
      payload,
    };
    const secretValues = config.secretNames.flatMap((name) => config.env[name] ?? []);
    return { verified, rollback: false, hostRelease, secretValues, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * The release's link to the one before it. A refusal that concerns the release before (not
 * trusted, not what its tag says) is said as found while checking this release's link.
 */
async function checkLink(
  github: GitHub,
  release: VerifiedManifest,
  options: ChainOptions,
): Promise<void> {
  try {
    await verifyPreviousLink(github, release, options);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    const own = `release ${release.entry.tag}`;
    const inner = error.problem.subject;
    if (inner === own || inner?.startsWith(`${own}:`)) throw error;
    const subject = `${own}: checking its previous release${inner === undefined ? '' : `: ${inner}`}`;
    throw new ConfigurationError({ ...error.problem, subject }, { cause: error });
  }
}

function describeRelease({ manifest, entry, signer }: VerifiedManifest, log: Log): void {
  log.info(
    `${entry.tag}: ${manifest.changes} (build ${manifest.build.sha.slice(0, 7)}); release.json signed by ${signer.principal}`,
  );
}

async function resolvePrevious(options: ResolveOptions): Promise<VerifiedManifest> {
  const { github, scope, log } = options;
  const states = await hostStates(options);
  options.checklist.pass(`connected to ${states.length} host${states.length === 1 ? '' : 's'}`);
  options.checklist.read(states.map((state) => ({ host: state.host, current: state.current })));
  const previous = previousFromHosts(states);
  log.info(`previous: ${previous.id} (the hosts run ${previous.current ?? 'nothing'})`);
  const entry = await findRelease(github, scope, previous.id);
  if (!entry) {
    throw new ConfigurationError({
      input: 'release-id',
      problem: `previous: the hosts name ${previous.id}, but ${scope.app}/${scope.environment} has no published release ${previous.id}`,
    });
  }
  const verified = await verifyManifest(github, scope, entry, options.allowedSigners);
  options.checklist.pass(
    `${MANIFEST_ASSET} of ${previous.id} signed by ${code(verified.signer.principal)}`,
  );
  await checkLink(github, verified, { scope, allowedSigners: options.allowedSigners });
  for (const state of states) {
    const copy = state.releases.find((r) => r.id === previous.id);
    if (copy?.manifestDigest !== verified.digest) {
      throw new ConfigurationError({
        subject: `host ${state.host}`,
        problem: `releases/${previous.id} does not hold the signed release.json of ${entry.tag} (${copy?.manifestDigest ?? 'none'} vs ${verified.digest})`,
        hint: `deploy release-id ${previous.id} to replace it`,
      });
    }
  }
  describeRelease(verified, log);
  return verified;
}
