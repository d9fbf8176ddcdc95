import { StringDecoder } from 'node:string_decoder';
import { logOutput, type Log } from '../log.js';

/** Lines of one command's output shown in the log; past it the log says how much it left out. */
const LINE_LIMIT = 500;

/**
 * A command's output (a restart, a health check) printed to the log line by line as it comes,
 * so a person watching the job sees what the host says while it says it. Bounded: a command
 * that prints without end does not flood the log; the tail still reaches the summary.
 */
export class LiveOutput {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private lines = 0;
  private skipped = 0;

  constructor(
    private readonly log: Log,
    private readonly limit = LINE_LIMIT,
  ) {}

  readonly write = (chunk: Buffer): void => {
    const text = this.pending + this.decoder.write(chunk);
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.pending = text;
      return;
    }
    this.pending = text.slice(end + 1);
    this.print(text.slice(0, end).split('\n'));
  };

  /** Prints what is left of the last line, and how many lines were left out. */
  end(): void {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (rest !== '') this.print([rest]);
    if (this.skipped > 0) {
      this.log.info(
        `(${this.skipped} more lines of output not shown; the summary has the last ones)`,
      );
      this.skipped = 0;
    }
  }

  private print(lines: string[]): void {
    const room = Math.max(0, this.limit - this.lines);
    const shown = lines.slice(0, room).map((line) => line.replace(/\r$/, ''));
    this.skipped += lines.length - shown.length;
    this.lines += shown.length;
    if (shown.length > 0) logOutput(this.log, shown.join('\n'));
  }
}
