import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Compression } from '../bundle/compression.js';
import { compressStream } from '../bundle/compress-stream.js';
import { releaseStream } from '../bundle/delta-tar.js';
import { INDEX_HEADER, parseIndex, serializeIndex, type FileIndex } from '../bundle/file-index.js';
import type { BundleSource } from '../bundle/check.js';
import { decompressOutput, deltaPlan, fullPlan, type DeltaPlan } from './delta-plan.js';
import { UploadProgress, type ProgressOptions } from './progress.js';
import {
  checkBaseScript,
  hostToolsScript,
  indexUpdateInput,
  parseBaseCheck,
  parseHostTools,
  parseIndexDigest,
  receiveDeltaScript,
  writeIndexScript,
  type HostTools,
} from './scripts/delta.js';

/*
 * The runner's side of a transfer, in the order a deploy takes it: find the host's tools (once
 * per host), receive the release into `releases/<id>.tmp` (from the host's newest release when it
 * has one: check it, link what it has as shipped, send the rest), then write the new release's
 * index once the release's own metadata directory is ready.
 */

type Stdin = Readable | Buffer | string;

/** What these steps need of a host session: run a script, or run one that must succeed. */
export interface ScriptHost {
  exec(
    script: string,
    options?: { stdin?: Stdin },
  ): Promise<{ code: number | null; stdout: Buffer }>;
  must(what: string, script: string, options?: { stdin?: Stdin }): Promise<{ stdout: Buffer }>;
}

export async function findHostTools(host: ScriptHost): Promise<HostTools> {
  return parseHostTools((await host.must('finding the host tools', hostToolsScript())).stdout);
}

export interface ReceiveOptions {
  root: string;
  id: string;
  /** The verified bundle and what it was verified as. */
  bundle: BundleSource;
  compression?: Compression;
  expectedDigest?: string;
  /** The bundle's index, computed in the pass that verified it. */
  next: FileIndex;
  /** The host's newest complete release, when it has one. */
  base: string | undefined;
  tools: HostTools;
  /** Progress lines for a long upload: `label` names it, `report` writes a line to the log. */
  progress?: Pick<ProgressOptions, 'label' | 'report' | 'now'>;
}

export interface Received {
  plan: DeltaPlan;
  /** The release the files were linked from; undefined for a full transfer. */
  base: string | undefined;
}

/** Checks the base against its index; undefined when the host cannot vouch for any of it. */
async function checkBase(
  host: ScriptHost,
  options: ReceiveOptions,
): Promise<DeltaPlan | undefined> {
  const { base, tools } = options;
  if (base === undefined || tools.hash === undefined) return undefined;
  const nonce = randomBytes(16).toString('hex');
  const checked = await host.exec(
    checkBaseScript(options.root, base, { ...tools, hash: tools.hash }, nonce),
  );
  // No base or no index (a release from before indexes): a full transfer, as for a first deploy.
  if (checked.code !== 0) return undefined;
  const report = parseBaseCheck(await decompressOutput(checked.stdout, tools.decompressor), nonce);
  if (report === undefined) return undefined;
  try {
    return deltaPlan(parseIndex(report.index), report.unverified, options.next);
  } catch {
    return undefined;
  }
}

/**
 * Puts the bundle into `releases/<id>.tmp`: the files the base has as shipped hard-linked from
 * it, everything else sent, compressed when the host can decompress. Throws what `must` throws.
 */
export async function receiveRelease(host: ScriptHost, options: ReceiveOptions): Promise<Received> {
  const delta = await checkBase(host, options);
  const plan = delta && delta.carry.size > 0 ? delta : fullPlan(options.next);
  const base = plan.carry.size > 0 ? options.base : undefined;
  const wire = options.tools.decompressor;
  const headers = 512 * (plan.sendEntries + plan.carry.size);
  const progress = options.progress
    ? new UploadProgress({ ...options.progress, total: plan.sendBytes + headers })
    : undefined;
  const stream = releaseStream(options.bundle, {
    into: `${options.id}.tmp`,
    ...(base === undefined ? {} : { base, carry: plan.carry }),
    ...(options.compression ? { compression: options.compression } : {}),
    ...(options.expectedDigest ? { expectedDigest: options.expectedDigest } : {}),
    ...(wire ? { wire } : {}),
    ...(progress ? { onTar: (bytes: number) => progress.tar(bytes) } : {}),
  });
  await host.must(`unpacking ${options.id}`, receiveDeltaScript(options.root, options.id, wire), {
    stdin: progress ? Readable.from(progress.wire(stream)) : stream,
  });
  progress?.finish();
  return { plan, base };
}

async function compressed(text: string, tools: HostTools): Promise<Buffer> {
  const bytes = Buffer.from(text);
  if (tools.decompressor === undefined) return bytes;
  const chunks: Buffer[] = [];
  for await (const chunk of compressStream([bytes], tools.decompressor)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Writes `releases/<id>.tmp/.release/index`: the host keeps its base's lines for the linked
 * files and takes the rest from the runner. When the host can hash, the result is compared with
 * the index the runner computed; a difference rewrites it whole from the runner's lines.
 */
export async function writeReleaseIndex(
  host: ScriptHost,
  options: Pick<ReceiveOptions, 'root' | 'id' | 'next' | 'tools'> & Received,
): Promise<void> {
  const expected = createHash('sha256').update(serializeIndex(options.next)).digest('hex');
  const write = async (plan: DeltaPlan, base: string | undefined) => {
    const nonce = randomBytes(16).toString('hex');
    const script = writeIndexScript({
      root: options.root,
      id: options.id,
      base,
      how: plan.update.how,
      header: INDEX_HEADER,
      nonce,
      tools: options.tools,
    });
    const stdin = await compressed(indexUpdateInput(plan.update, nonce), options.tools);
    const written = await host.must(`writing ${options.id}/.release/index`, script, { stdin });
    return parseIndexDigest(written.stdout);
  };
  if (options.tools.hash === undefined) {
    await write(fullPlan(options.next), undefined);
    return;
  }
  if ((await write(options.plan, options.base)) === expected) return;
  const whole = await write(fullPlan(options.next), undefined);
  if (whole !== expected) {
    throw new Error(`the index written on the host is ${whole ?? 'unreadable'}, not ${expected}`);
  }
}
