/**
 * The release ledger of one app and environment, on GitHub's real rules: GitHub Releases on tags
 * `<app>/<environment>/v<N>`, read through the tags (one request, whatever the ledger's length),
 * reserved by creating a tag that points at the default branch's head (never at the build's
 * commit, which the Actions token may not be allowed to tag), published draft-first.
 */
export {
  downloadAsset,
  openAsset,
  receive,
  type AssetBody,
  type AssetUpload,
  type UploadedAsset,
} from './ledger/assets.js';
export { CHAIN_WALK, previousRelease, type PreviousOptions } from './ledger/chain.js';
export {
  abandon,
  createDraft,
  findDraft,
  nonceMarker,
  publishDraft,
  putAsset,
  type Draft,
  type DraftSpec,
  type Holding,
} from './ledger/drafts.js';
export { parseReservation, reservationMessage, type Holder } from './ledger/holders.js';
export { LOW_BUDGET, pacer, type WaitBounds } from './ledger/pace.js';
export {
  findRelease,
  LATEST_WALK,
  latestRelease,
  readRelease,
  type LedgerEntry,
} from './ledger/releases.js';
export { reserve, type Reservation, type ReserveOptions } from './ledger/reserve.js';
export { refPatternMatches } from './ledger/rules.js';
export { deleteLedger } from './ledger/teardown.js';
export {
  readIndex,
  tagOf,
  type LedgerIndex,
  type LedgerScope,
  type LedgerTag,
} from './ledger/tags.js';
