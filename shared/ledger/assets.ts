import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, openAsBlob } from 'node:fs';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { HttpClient } from '@actions/http-client';
import { request as undiciRequest, type Dispatcher } from 'undici';
import { ConfigurationError } from '../errors.js';
import type { GitHub, Repository } from '../github.js';

/** Release assets: read as they arrive, written as a stream whatever their size. */

/** Downloads a (small) release asset into memory. */
export async function downloadAsset(
  github: GitHub,
  repository: Repository,
  assetId: number,
): Promise<Buffer> {
  const chunks = (await (await openAsset(github, repository, assetId)).toArray()) as Buffer[];
  return Buffer.concat(chunks);
}

/**
 * Each Response by its body, held for as long as the body is. fetch cancels the body of a
 * Response that is garbage-collected before the body was read, and Octokit hands on the body
 * alone: a collection between its answer and our first read (the retry and throttling plugins
 * answer a few turns later) gave an empty asset, a release.json that matched no signature.
 */
const responses = new WeakMap<object, Response>();

type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

function holdingResponses(fetch: Fetch): Fetch {
  return async (url, init) => {
    const response = await fetch(url, init);
    if (response.body !== null) responses.set(response.body, response);
    return response;
  };
}

/** A release asset's bytes as they arrive, for a reader that checks them on the way. */
export async function openAsset(
  github: GitHub,
  repository: Repository,
  assetId: number,
): Promise<Readable> {
  const fetch = (github.request.endpoint.DEFAULTS.request?.fetch ?? globalThis.fetch) as Fetch;
  const response = await github.request('GET /repos/{owner}/{repo}/releases/assets/{asset_id}', {
    ...repository,
    asset_id: assetId,
    headers: { accept: 'application/octet-stream' },
    request: { parseSuccessResponseBody: false, fetch: holdingResponses(fetch) },
  });
  return Readable.fromWeb(response.data as unknown as WebReadableStream<Uint8Array>);
}

/** What an asset upload sends: bytes in memory, or a file streamed from disk. */
export type AssetBody = { bytes: Uint8Array } | { file: string };

export interface AssetUpload {
  name: string;
  contentType: string;
  body: AssetBody;
  digest: string;
}

export interface UploadedAsset {
  id: number;
  name: string;
  size: number;
  digest: string | null;
}

/** A Blob, file-backed when the asset is a file: read lazily, and from the start on each try. */
export async function assetBlob(body: AssetBody): Promise<Blob> {
  return 'file' in body ? openAsBlob(body.file) : new Blob([new Uint8Array(body.bytes)]);
}

/**
 * One try at uploading an asset through the release's `upload_url`, without Octokit's retries:
 * a retried upload whose first answer was lost would find its own name taken, which the caller
 * tells apart by reading the release.
 */
export async function sendAsset(
  github: GitHub,
  uploadUrl: string,
  asset: AssetUpload,
): Promise<UploadedAsset> {
  const blob = await assetBlob(asset.body);
  const response: { data: unknown } = await github.request({
    method: 'POST',
    // The URL template's {?name,label} takes `name` into the query.
    url: uploadUrl,
    name: asset.name,
    data: blob,
    headers: { 'content-type': asset.contentType, 'content-length': blob.size },
    request: { fetch: streamingFetch, retries: 0 },
  });
  const uploaded = response.data as UploadedAsset;
  return {
    id: uploaded.id,
    name: uploaded.name,
    size: uploaded.size,
    digest: uploaded.digest ?? null,
  };
}

/**
 * The fetch Octokit uses for uploads. fetch() itself, Node's or undici's, keeps every chunk of a
 * streamed request body in memory until the request ends (nodejs/undici#4058): a 1 GB bundle
 * would take 1 GB. undici's request() streams with backpressure. Octokit still does the rest
 * (auth, rate limits, errors), and the proxy is found as @actions/github finds it for Octokit's
 * own requests.
 */
async function streamingFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
  const body = init.body;
  const response = await undiciRequest(url, {
    method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
    headers: init.headers as Record<string, string>,
    body:
      body instanceof Blob
        ? Readable.fromWeb(body.stream() as WebReadableStream<Uint8Array>)
        : (body as string | null | undefined),
    signal: init.signal ?? undefined,
    dispatcher: new HttpClient().getAgentDispatcher(String(url)),
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined) headers.append(name, one);
    }
  }
  const text = await response.body.text();
  const empty = [204, 205, 304].includes(response.statusCode);
  return new Response(empty ? null : text, { status: response.statusCode, headers });
}

export interface Received {
  digest: string;
  size: number;
  /** Why `check` refused the bytes, if it did. */
  refusal?: ConfigurationError;
}

/**
 * Writes `body` to `file` (when there is one) while `check` reads the same bytes, and stops
 * reading after `limit` bytes. When `check` refuses part-way, the rest (up to the limit) is
 * still read, so the digest can tell a replaced asset from a bad one.
 */
export async function receive(
  body: Readable,
  file: string | undefined,
  limit: number,
  check: (bytes: AsyncIterable<Buffer>) => Promise<void>,
): Promise<Received> {
  const output =
    file === undefined ? undefined : createWriteStream(file, { highWaterMark: 1 << 20 });
  const written = output ? finished(output) : Promise.resolve();
  written.catch(() => undefined);
  const hash = createHash('sha256');
  let size = 0;
  async function* incoming(): AsyncGenerator<Buffer> {
    for await (const chunk of body) {
      const bytes = (chunk as Buffer).subarray(0, limit - size);
      hash.update(bytes);
      size += bytes.length;
      if (output && !output.write(bytes)) await once(output, 'drain');
      yield bytes;
      if (size >= limit) return;
    }
  }
  const source = incoming();
  // Without return(), a refusal mid-bundle cannot close the download: its rest still counts.
  const unclosable: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({ next: () => source.next() }),
  };
  let refusal: ConfigurationError | undefined;
  try {
    await check(unclosable);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    refusal = error;
  } finally {
    for await (const rest of source) void rest;
    body.destroy();
    output?.end();
  }
  await written;
  return { digest: `sha256:${hash.digest('hex')}`, size, refusal };
}
