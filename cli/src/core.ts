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
  parseManifest,
  verifyChain,
  type Manifest,
} from '../../shared/manifest.js';
export {
  appName,
  environmentName,
  parseHost,
  releaseId,
  releaseNumber,
  releaseTag,
  type Host,
} from '../../shared/names.js';
export { mapLimit } from '../../shared/fleet/parallel.js';
export { deployRoot } from '../../shared/host/scripts/root.js';
export { keysFor, knownHostsName, parseKnownHosts } from '../../shared/host/known-hosts.js';
export { splitLines } from '../../shared/inputs.js';
export { parseAllowedSigners, type AllowedSigner } from '../../shared/signature.js';
export { verifyBundle, verifyManifest, type VerifiedManifest } from '../../shared/verify.js';
