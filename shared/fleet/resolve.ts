import { rm } from 'node:fs/promises';
import { checkedTar } from '../bundle.js';
import { ConfigurationError } from '../errors.js';
import type { GitHub } from '../github.js';
import { readHostState, type HostState } from '../host/state.js';
import type { HostRelease } from '../host/transfer.js';
import { findRelease, latestRelease, type LedgerEntry, type LedgerScope } from '../ledger.js';
import type { Log } from '../log.js';
import type { AllowedSigner } from '../signature.js';
import { releaseConfig, verifyBundle, verifyManifest, type VerifiedManifest } from '../verify.js';
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
  /** Where the bundle is downloaded to. */
  tempDir: string;
  /** The hosts: only `previous` reads them, since only they know what it is. */
  fleet: Fleet;
  root: string;
  log: Log;
}

/** A release checked from end to end before any host changes. */
export interface ResolvedRelease {
  verified: VerifiedManifest;
  /** `previous`: made current again from what is on the hosts, nothing uploaded. */
  rollback: boolean;
  /** For a deploy, the release as each host receives it. */
  hostRelease: HostRelease | undefined;
  /** Removes the downloaded bundle. */
  dispose(): Promise<void>;
}

/**
 * Finds the release the step deploys and verifies it: release.json signed by an allowed signer,
 * its link in the ledger, the bundle's digest and entries, its secrets decrypted. For `previous`
 * it asks the hosts what that is, and checks each holds the signed release.json.
 */
export async function resolveRelease(options: ResolveOptions): Promise<ResolvedRelease> {
  const { log } = options;
  if (options.selector === 'previous') {
    const verified = await resolvePrevious(options);
    return { verified, rollback: true, hostRelease: undefined, dispose: () => Promise.resolve() };
  }
  const { github, scope } = options;
  const entry = await resolveFromLedger(github, scope, options.selector);
  const verified = await verifyManifest(github, scope, entry, options.allowedSigners);
  const { manifest } = verified;
  describeRelease(verified, log);
  const bundle = await verifyBundle(github, verified, { scope, tempDir: options.tempDir, log });
  const dispose = () => rm(bundle.directory, { recursive: true, force: true });
  try {
    const config = await releaseConfig(verified, options.identity, log);
    log.info(
      `Verified ${entry.tag}: bundle ${manifest.build.digest}, ${config.secretNames.length} secrets decrypted`,
    );
    const hostRelease: HostRelease = {
      id: manifest.id,
      digest: manifest.build.digest,
      manifestBytes: verified.bytes,
      signatureBytes: verified.signature,
      env: config.env,
      openBundle: () => checkedTar(bundle.file, { compression: manifest.build.compression }),
    };
    return { verified, rollback: false, hostRelease, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

function describeRelease({ manifest, entry, signer }: VerifiedManifest, log: Log): void {
  log.info(
    `${entry.tag}: ${manifest.changes} (build ${manifest.build.sha.slice(0, 7)}); release.json signed by ${signer.principal}`,
  );
}

async function resolvePrevious(options: ResolveOptions): Promise<VerifiedManifest> {
  const { github, scope, log } = options;
  // Reading the hosts' state changes nothing.
  const connections = await options.fleet.connections();
  const states = await Promise.all(
    connections.map((c) => readHostState(c.transport, { root: options.root, log })),
  );
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
