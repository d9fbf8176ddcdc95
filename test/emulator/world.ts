import type { BlobStore } from './blob-store.js';
import type { Contract } from './contract.js';
import type { Faults } from './faults.js';
import type { State } from './state.js';

/** A request or response that breaks GitHub's documented contract, or a route GitHub lacks. */
export interface Violation {
  /** The operation ID (`repos/create-release`), the Twirp method, or `unknown`. */
  operation: string;
  direction: 'request' | 'response';
  method: string;
  path: string;
  /** `body.tag_name`, `query.per_page`, `response.assets[0].size`, `route`. */
  field: string;
  message: string;
}

export interface RequestRecord {
  origin: 'api' | 'uploads' | 'results';
  method: string;
  path: string;
  /** The operation ID or Twirp method, when the route is known. */
  operation: string | undefined;
  status: number;
  /** The token that made it (REST): one per step, as `runnerEnv()` gives each step its own. */
  token?: string;
}

export interface Urls {
  /** REST API (GITHUB_API_URL). */
  api: string;
  /** Where `upload_url` points: GitHub's uploads.github.com. */
  uploads: string;
  /** GITHUB_SERVER_URL: a *.localhost name only compared as text, never connected to. */
  server: string;
  /** ACTIONS_RESULTS_URL: the Twirp results services. */
  results: string;
}

/** What every part of the emulator shares. */
export interface World {
  state: State;
  blobs: BlobStore;
  contract: Contract;
  faults: Faults;
  urls: Urls;
  violations: Violation[];
  requests: RequestRecord[];
  /** HMAC key for runtime tokens. */
  tokenKey: Buffer;
}

/** An error answer in GitHub's shape: `{message, documentation_url, errors?}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, unknown>[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}
