/*
 * The shared modules brr is built on, reached through this one file: when they move or change
 * shape, brr changes here.
 */
export { ConfigurationError, formatError, foldedTail, printable } from '../../shared/errors.js';
export { gitHubClient, statusOf, type GitHub, type Repository } from '../../shared/github.js';
export {
  downloadAsset,
  findRelease,
  latestRelease,
  readIndex,
  type LedgerEntry,
  type LedgerIndex,
  type LedgerScope,
  type LedgerTag,
} from '../../shared/ledger.js';
export type { Log } from '../../shared/log.js';
export {
  chainTo,
  configDiff,
  digestOf,
  MANIFEST_ASSET,
  SIGNATURE_ASSET,
  parseManifest,
  checkPreviousLink,
  type Manifest,
  type StoredManifest,
} from '../../shared/manifest.js';
export {
  appName,
  environmentName,
  isPreviewEnvironment,
  jumpHost,
  parseHost,
  releaseId,
  releaseNumber,
  releaseTag,
  type Host,
} from '../../shared/names.js';
export { mapLimit } from '../../shared/fleet/parallel.js';
export {
  localEnv,
  openFleet,
  type Connection,
  type Fleet,
  type HostAccess as FleetAccess,
} from '../../shared/fleet/connect.js';
export { PendingDeployment } from '../../shared/fleet/github-deployment.js';
export { previousFromHosts } from '../../shared/fleet/resolve.js';
export { fleetResult } from '../../shared/fleet/result.js';
export { describeRuns, rollout, type HostOutcome, type Runs } from '../../shared/fleet/rollout.js';
export type { Commands, HostResult } from '../../shared/host/activate.js';
export type { HistoryEvent } from '../../shared/host/history.js';
export { rollbackHost, stageRollback } from '../../shared/host/rollback.js';
export { deployRoot } from '../../shared/host/scripts/root.js';
export { type LockOptions } from '../../shared/host/session.js';
export { type LockState } from '../../shared/host/lock-state.js';
export { readHostState, type HostState } from '../../shared/host/state.js';
export { unlockHost, type UnlockResult } from '../../shared/host/unlock.js';
export { keysFor, knownHostsName, parseKnownHosts } from '../../shared/host/known-hosts.js';
export { splitLines } from '../../shared/inputs.js';
export { parseAllowedSigners, type AllowedSigner } from '../../shared/signature.js';
export {
  verifyBundle,
  verifyManifest,
  verifyPreviousLink,
  verifySignedManifest,
  type VerifiedManifest,
} from '../../shared/verify.js';
