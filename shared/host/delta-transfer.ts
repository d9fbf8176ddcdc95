import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Compression } from '../bundle/compression.js';
import { IndexDiffer, type FileIndex, type IndexDiff } from '../bundle/file-index.js';
import { onTheWire, type ReleasePayload } from '../bundle/payload.js';
import { releaseFilesTar, type ReleaseFile } from '../bundle/release-tar.js';
import { formatBytes } from '../markdown.js';
import {
  ArrivingOutput,
  decompressedOutput,
  readBaseCheck,
  type ReportLines,
} from './base-report.js';
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
    options?: { stdin?: Stdin; onStdout?: (chunk: Buffer) => void },
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
 * What a release's plans are made from, shared by the hosts it goes to: the diffs of the base
 * indexes they report (by the sha256 of the index's lines: most of a fleet reports one), and
 * the plans (by that and the files not as shipped). A plan is one object for every host on it:
 * they read one stream.
 */
interface Planning {
  diffs: Map<string, Promise<IndexDiff | undefined>>;
  plans: Map<string, Promise<DeltaPlan | undefined>>;
  /**
   * Set once a host's report is diffed as it comes (the first host's); settled once that diff
   * is made, or cannot be.
   */
  streamed: Promise<void> | undefined;
}

const planning = new WeakMap<FileIndex, Planning>();

function planningFor(next: FileIndex): Planning {
  let made = planning.get(next);
  if (!made)
    planning.set(next, (made = { diffs: new Map(), plans: new Map(), streamed: undefined }));
  return made;
}

/** A report's index lines, hashed, and for the first host of a release diffed, as they come. */
class IndexLines implements ReportLines {
  readonly #hash = createHash('sha256');
  /** Failed: a line no index holds, so no diff (and no plan) for that index. */
  #differ: IndexDiffer | 'failed' | undefined;
  #key: string | undefined;

  /** With `diffed`, the lines are diffed as they come, and `diffed` is called once they end. */
  constructor(
    private readonly planning: Planning,
    next: FileIndex,
    private readonly diffed?: () => void,
  ) {
    this.#differ = diffed ? new IndexDiffer(next) : undefined;
  }

  /** The sha256 of the index's lines, once they have all come. */
  get key(): string | undefined {
    return this.#key;
  }

  index(line: string): void {
    this.#hash.update(line).update('\n');
    if (this.#differ === undefined || this.#differ === 'failed') return;
    try {
      this.#differ.line(line);
    } catch {
      this.#differ = 'failed';
    }
  }

  indexEnd(): void {
    const key = (this.#key = this.#hash.digest('hex'));
    const differ = this.#differ;
    this.#differ = undefined;
    // Diffed as it came: ready for every host whose index has the same lines.
    if (differ !== undefined && !this.planning.diffs.has(key)) {
      this.planning.diffs.set(
        key,
        Promise.resolve(differ === 'failed' ? undefined : finished(differ)),
      );
    }
    this.diffed?.();
  }
}

/** What an IndexDiffer found; undefined when what it was given is no index (no line at all). */
function finished(differ: IndexDiffer): IndexDiff | undefined {
  try {
    return differ.finish();
  } catch {
    return undefined;
  }
}

/**
 * Checks the base against its index; undefined when the host cannot vouch for any of it. The
 * report is read as the host writes it, never held whole: its index lines hashed (the key by
 * which hosts share a diff) and, for the first host of a release, diffed at once, so the diff
 * is made while the host still checks its files. A host whose index was not diffed that way
 * has its report read again, from its output, to diff it.
 */
async function checkBase(host: ScriptHost, options: PlanOptions): Promise<DeltaPlan | undefined> {
  const { base, tools } = options;
  if (base === undefined || tools.hash === undefined) return undefined;
  const shared = planningFor(options.next);
  // The first host's report is diffed as it comes; until its index has come, others wait for it.
  const waitFor = shared.streamed;
  let diffed = (): void => undefined;
  if (waitFor === undefined) shared.streamed = new Promise<void>((done) => (diffed = done));
  const lines = new IndexLines(shared, options.next, waitFor === undefined ? diffed : undefined);
  const nonce = randomBytes(16).toString('hex');
  const arriving = new ArrivingOutput();
  const reading = readBaseCheck(decompressedOutput(arriving, tools.decompressor), nonce, lines);
  // Its report read, or not to be: nothing more is kept of it, and hosts waiting for its diff
  // wait no more. (Awaited below; a failed exec must not leave a rejection unhandled.)
  const settled = () => {
    arriving.stop();
    diffed();
  };
  void reading.then(settled, settled);
  let checked: { code: number | null; stdout: Buffer };
  try {
    checked = await host.exec(
      checkBaseScript(options.root, base, { ...tools, hash: tools.hash }, nonce),
      { onStdout: (chunk) => arriving.push(chunk) },
    );
  } finally {
    arriving.end();
  }
  // No base or no index (a release from before indexes): a full transfer, as for a first deploy.
  if (checked.code !== 0) return undefined;
  const unverified = await reading;
  const key = lines.key;
  if (unverified === undefined || key === undefined) return undefined;
  if (!shared.diffs.has(key)) await waitFor;
  let diff = shared.diffs.get(key);
  if (diff === undefined) {
    diff = diffOutput(options.next, decompressedOutput(checked.stdout, tools.decompressor), nonce);
    shared.diffs.set(key, diff);
  }
  const plan = createHash('sha256').update(key);
  for (const path of [...unverified].sort()) plan.update('\0').update(path);
  return once(shared.plans, plan.digest('hex'), async () => {
    const made = await diff;
    return made && deltaPlan(made, unverified);
  });
}

/** The diff of a report's index read again from its output; undefined if it is not an index. */
async function diffOutput(
  next: FileIndex,
  output: AsyncIterable<Buffer>,
  nonce: string,
): Promise<IndexDiff | undefined> {
  const differ = new IndexDiffer(next);
  try {
    await readBaseCheck(output, nonce, { index: (line) => differ.line(line) });
  } catch {
    return undefined;
  }
  return finished(differ);
}

function once<T>(made: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let value = made.get(key);
  if (value === undefined) made.set(key, (value = make()));
  return value;
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
