import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Compression } from '../bundle/compression.js';
import { IndexDiffer, type FileIndex } from '../bundle/file-index.js';
import { onTheWire, type ReleasePayload } from '../bundle/payload.js';
import { releaseFilesTar, type ReleaseFile } from '../bundle/release-tar.js';
import { formatBytes } from '../markdown.js';
import { decompressedOutput, readBaseCheck } from './base-report.js';
import { deltaPlan, fullPlan, type DeltaPlan } from './delta-plan.js';
import { UploadProgress, type ProgressOptions } from './progress.js';
import { checkBaseScript, writeIndexScript } from './scripts/delta.js';
import type { HostTools } from './scripts/tools.js';

/*
 * The runner's side of a transfer: what a host lacks (its newest release checked against that
 * release's index), the stream it reads (the release's files that travel, shared with every
 * host on the same plan, then its own files and the index update), and the index written whole
 * in the rare case the host's merge differs.
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

export interface PlanOptions {
  root: string;
  /** The release to build from: current when on disk, else the newest good one. */
  base: string | undefined;
  tools: HostTools;
  /** The new release's index, computed in the pass that verified the bundle. */
  next: FileIndex;
}

export interface TransferPlan {
  plan: DeltaPlan;
  /** The release the files are linked from; undefined for a full transfer. */
  base: string | undefined;
}

/**
 * Checks the base against its index; undefined when the host cannot vouch for any of it. The
 * report is read twice as it is decompressed, never held whole: once for what the plan depends
 * on (the base's index and the files not as shipped, hashed), and once more to diff the index,
 * unless a host with the same report had it diffed already.
 */
async function checkBase(host: ScriptHost, options: PlanOptions): Promise<DeltaPlan | undefined> {
  const { base, tools } = options;
  if (base === undefined || tools.hash === undefined) return undefined;
  const nonce = randomBytes(16).toString('hex');
  const checked = await host.exec(
    checkBaseScript(options.root, base, { ...tools, hash: tools.hash }, nonce),
  );
  // No base or no index (a release from before indexes): a full transfer, as for a first deploy.
  if (checked.code !== 0) return undefined;
  const output = () => decompressedOutput(checked.stdout, tools.decompressor);
  const key = createHash('sha256');
  const unverified = await readBaseCheck(output(), nonce, (line) => key.update(line).update('\n'));
  if (unverified === undefined) return undefined;
  for (const path of [...unverified].sort()) key.update('\0').update(path);
  return planOnce(options.next, key.digest('hex'), async () => {
    try {
      const differ = new IndexDiffer(options.next);
      await readBaseCheck(output(), nonce, (line) => differ.line(line));
      return deltaPlan(differ.finish(), unverified);
    } catch {
      return undefined;
    }
  });
}

/**
 * Plans made for a release, by what the host reported: hosts on the same base with the same
 * files as shipped (most of a fleet) share one plan, diffed once.
 */
const plans = new WeakMap<FileIndex, Map<string, Promise<DeltaPlan | undefined>>>();

function planOnce(
  next: FileIndex,
  key: string,
  make: () => Promise<DeltaPlan | undefined>,
): Promise<DeltaPlan | undefined> {
  let made = plans.get(next);
  if (!made) plans.set(next, (made = new Map<string, Promise<DeltaPlan | undefined>>()));
  let plan = made.get(key);
  if (plan === undefined) made.set(key, (plan = make()));
  return plan;
}

/**
 * What travels: the files the base has as shipped are linked from it, the rest is sent; with
 * no base, no hash tool or nothing to link, everything is sent.
 */
export async function planTransfer(host: ScriptHost, options: PlanOptions): Promise<TransferPlan> {
  const delta = await checkBase(host, options);
  const plan = delta && delta.carry.size > 0 ? delta : fullPlan(options.next);
  return { plan, base: plan.carry.size > 0 ? options.base : undefined };
}

export interface UploadOptions {
  id: string;
  payload: ReleasePayload;
  planned: TransferPlan;
  tools: HostTools;
  /** The release's own files: `.env`, release.json and its signature. */
  files: readonly ReleaseFile[];
  /** Progress lines for a long upload: `label` names it, `report` writes a line to the log. */
  progress?: Pick<ProgressOptions, 'label' | 'report' | 'now'>;
}

export interface Upload {
  stdin: Readable;
  /**
   * The stream's names are relative to the release directory (a full transfer, which may be
   * the bundle's own frames), not under `<id>.tmp/` (a delta, whose hard links name the base).
   */
  relative: boolean;
  /** What the stream's last file holds, and the line that splits its index update. */
  nonce: string;
  /** What travels and how, for the log: `15,499 files linked from v1, 2 entries sent (1.2 KiB)`. */
  summary: string;
  /** Writes the last progress line of a long upload. */
  finish(): void;
}

/**
 * The stream a host unpacks: the release's entries as the plan says and the index update (made
 * once for every host with that plan), then its own files and, last, a file holding the nonce,
 * so the host can tell a whole stream from one cut short. Compressed as the host can read.
 */
export function uploadStream(options: UploadOptions): Upload {
  const { planned } = options;
  const wire = options.tools.decompressor;
  const relative = planned.base === undefined;
  const into = relative ? '' : `${options.id}.tmp`;
  const read = options.payload.read({
    into,
    wire,
    update: planned.plan.update,
    ...(planned.base === undefined ? {} : { base: planned.base, carry: planned.plan.carry }),
  });
  const total = planned.plan.sendBytes + 512 * (planned.plan.sendEntries + planned.plan.carry.size);
  const progress = options.progress
    ? new UploadProgress({ ...options.progress, total })
    : undefined;
  const files: ReleaseFile[] = [
    ...options.files,
    { path: '.release/complete', content: Buffer.from(read.nonce) },
  ];
  async function* chunks(): AsyncGenerator<Buffer> {
    let wireBytes = 0;
    for await (const chunk of read.chunks) {
      wireBytes += chunk.length;
      progress?.at(read.tarSent(), wireBytes);
      yield chunk;
    }
    // Only once every entry went out whole: a stream that failed never gets its last file.
    yield* onTheWire(releaseFilesTar(into, files), wire);
  }
  return {
    stdin: Readable.from(chunks()),
    relative,
    nonce: read.nonce,
    summary: uploadSummary(planned, read.forwarded ? 'forwarded' : wire),
    finish: () => progress?.finish(),
  };
}

function uploadSummary(planned: TransferPlan, how: Compression | 'forwarded' | undefined): string {
  const { plan, base } = planned;
  const sent = `${plan.sendEntries.toLocaleString('en-US')} entries sent (${formatBytes(plan.sendBytes)} of files)`;
  const wire =
    how === 'forwarded'
      ? "the bundle's own zstd frames"
      : how === undefined
        ? 'a plain tar'
        : `compressed with ${how}`;
  if (base === undefined) return `${sent}, all of it: ${wire}`;
  return `${plan.carry.size.toLocaleString('en-US')} files linked from ${base}, ${sent}, ${wire}`;
}

/**
 * Writes the index of `releases/<id>.tmp` whole from the runner's index, when the one merged
 * on the host (from a base index not written the canonical way) differs from it.
 */
export async function rewriteIndex(
  host: ScriptHost,
  options: { root: string; id: string; payload: ReleasePayload; tools: HostTools },
): Promise<void> {
  await host.must(
    `writing ${options.id}/.release/index`,
    writeIndexScript(options.root, options.id, options.tools),
    { stdin: Readable.from(onTheWire(options.payload.indexFile(), options.tools.decompressor)) },
  );
}
