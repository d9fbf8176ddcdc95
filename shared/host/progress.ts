/*
 * Progress of a long upload, for the log: how much of the release has gone, what went on the
 * wire, the rate and the time left. Quiet for uploads shorter than a few seconds, and at most
 * one line every few seconds after that.
 */

const MiB = 1024 * 1024;

export interface ProgressOptions {
  /** Names the upload in each line: `host deploy@web-1: v12`. */
  label: string;
  /** Bytes of the release's tar that will travel, before compression. */
  total: number;
  report: (line: string) => void;
  now?: () => number;
  /** No line before the upload has run this long. */
  afterMs?: number;
  /** At most one line this often. */
  everyMs?: number;
}

export interface ProgressFigures {
  /** Tar bytes gone, of `total`. */
  done: number;
  total: number;
  /** Compressed bytes that went on the wire. */
  wire: number;
  elapsedMs: number;
}

function size(bytes: number): string {
  return bytes < MiB ? `${(bytes / 1024).toFixed(0)} KiB` : `${(bytes / MiB).toFixed(1)} MiB`;
}

function duration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** `45.2 MiB of 150.3 MiB (30%), 12.1 MiB sent, 8.0 MiB/s on the wire, about 13 s left` */
export function progressLine(figures: ProgressFigures): string {
  const seconds = figures.elapsedMs / 1000;
  const share = figures.total > 0 ? Math.min(100, (100 * figures.done) / figures.total) : 100;
  const wireRate = seconds > 0 ? figures.wire / seconds : 0;
  const tarRate = seconds > 0 ? figures.done / seconds : 0;
  const left =
    tarRate > 0 && figures.total > figures.done
      ? `, about ${duration((figures.total - figures.done) / tarRate)} left`
      : '';
  return `${size(figures.done)} of ${size(figures.total)} (${share.toFixed(0)}%), ${size(figures.wire)} sent, ${size(wireRate)}/s on the wire${left}`;
}

/** Counts an upload's bytes as they pass and reports now and then. */
export class UploadProgress {
  readonly #options: Required<Omit<ProgressOptions, 'label' | 'total' | 'report'>> &
    ProgressOptions;
  readonly #started: number;
  #done = 0;
  #wire = 0;
  #last: number;
  #reported = false;

  constructor(options: ProgressOptions) {
    this.#options = { now: Date.now, afterMs: 5000, everyMs: 5000, ...options };
    this.#started = this.#options.now();
    this.#last = this.#started;
  }

  /** The tar's bytes, before compression: what the share and the time left are made of. */
  tar(bytes: number): void {
    this.#done += bytes;
    this.#tick();
  }

  /** Passes the wire stream through, counting it. */
  async *wire(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const item of source) {
      const chunk: Buffer = item;
      this.#wire += chunk.length;
      this.#tick();
      yield chunk;
    }
  }

  /** A last line, once the upload is over, if it was long enough to report at all. */
  finish(): void {
    if (this.#reported) this.#line();
  }

  #tick(): void {
    const now = this.#options.now();
    if (now - this.#started < this.#options.afterMs) return;
    if (this.#reported && now - this.#last < this.#options.everyMs) return;
    this.#last = now;
    this.#reported = true;
    this.#line();
  }

  #line(): void {
    const figures = {
      done: this.#done,
      total: this.#options.total,
      wire: this.#wire,
      elapsedMs: this.#options.now() - this.#started,
    };
    this.#options.report(`${this.#options.label}: ${progressLine(figures)}`);
  }
}
