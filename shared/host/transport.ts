import type { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';

export interface ExecOptions {
  /** Data for the script's stdin: a file's content or a stream (a bundle). Never on a command line. */
  stdin?: Readable | Buffer | string;
  /** Stops waiting: the remote command is signalled and the call resolves with what it had. */
  signal?: AbortSignal;
  /** Sees the command's output as it comes (stdout, then stderr chunks as they arrive). */
  onOutput?: (chunk: Buffer) => void;
  /** Sees the command's stdout alone as it comes: a report read while the host still writes it. */
  onStdout?: (chunk: Buffer) => void;
}

export interface ExecResult {
  /** The exit status; null when the command ended by a signal or was abandoned. */
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  /** Bytes of stdin that were sent. */
  bytesSent: number;
}

/**
 * Runs POSIX sh scripts on one host. The host side of a deploy is such scripts
 * (shared/host/scripts/); a transport only carries them, so they are the same over SSH and here.
 */
export interface Transport {
  /** How errors name the host: `user@host:port`, or `local`. */
  readonly label: string;
  /** Runs a script with /bin/sh; resolves when it exits, whatever its status. */
  exec(script: string, options?: ExecOptions): Promise<ExecResult>;
  /** Bytes written to the stdin of every command so far: what a deploy uploaded. */
  readonly bytesSent: number;
  close(): Promise<void>;
}

/** A command a transport started: its streams, and how to stop it. */
export interface StartedCommand {
  /** Emits `exit` (code, signal) when the command ends, and `close` once its streams are done. */
  events: EventEmitter;
  stdout: Readable;
  stderr: Readable;
  stdin: Writable;
  /** Where an `error` means the command could not run at all (a local spawn that failed). */
  errors?: EventEmitter;
  /** Ends the command and what it started. */
  kill(): void;
  /** Lets go of the command's streams once its result is taken. */
  release(): void;
  /** Why a command that ended without an exit status has no result (the connection dropped). */
  lost?(): Error | undefined;
}

/**
 * What both transports do with a command they started: feed its stdin, keep its output, stop it
 * on abort, and resolve with its exit status; a command that exited is waited for only
 * `graceMs` more, since a daemon it started may hold its output open.
 */
export function awaitCommand(
  command: StartedCommand,
  options: ExecOptions & { graceMs: number; count: (bytes: number) => void },
): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    const stdout = new OutputBuffer();
    const stderr = new OutputBuffer();
    let bytesSent = 0;
    let exit: { code: number | null; signal: string | null } | undefined;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      options.signal?.removeEventListener('abort', abort);
      return true;
    };
    const finish = () => {
      if (!settle()) return;
      command.release();
      const lost = exit === undefined ? command.lost?.() : undefined;
      if (lost) reject(lost);
      else {
        const { code = null, signal = null } = exit ?? {};
        resolve({ code, signal, stdout: stdout.take(), stderr: stderr.take(), bytesSent });
      }
    };
    const fail = (error: unknown) => {
      if (!settle()) return;
      command.kill();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    const abort = () => {
      command.kill();
      exit ??= { code: null, signal: 'KILL' };
      finish();
    };
    const { onOutput, onStdout } = options;
    command.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      onOutput?.(chunk);
      onStdout?.(chunk);
    });
    command.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      onOutput?.(chunk);
    });
    command.stdin.on('error', () => undefined);
    command.errors?.once('error', fail);
    const exited = new Promise<void>((done) => {
      command.events.once('exit', (code: number | null, signal?: string | null) => {
        exit = { code: code ?? null, signal: signal ?? null };
        setTimeout(finish, options.graceMs).unref();
        done();
      });
      command.events.once('close', () => done());
    });
    command.events.once('close', finish);
    if (options.signal?.aborted) abort();
    options.signal?.addEventListener('abort', abort);
    if (options.stdin === undefined) {
      command.stdin.end();
      return;
    }
    const count = (bytes: number) => {
      bytesSent += bytes;
      options.count(bytes);
    };
    feed(options.stdin, command.stdin, count, exited).catch(fail);
  });
}

/** Output kept per stream; beyond it the oldest bytes go, since the end says what went wrong. */
export const OUTPUT_LIMIT = 16 * 1024 * 1024;

class OutputBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > OUTPUT_LIMIT && this.chunks.length > 1) {
      this.size -= this.chunks.shift()?.length ?? 0;
      this.truncated = true;
    }
  }

  take(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * Writes stdin into a command with backpressure, counting bytes. Stops quietly when the command
 * stops reading (it exited, e.g. tar on a full disk): its exit status tells the story.
 */
async function feed(
  input: Readable | Buffer | string,
  sink: Writable,
  count: (bytes: number) => void,
  closed: Promise<unknown>,
): Promise<void> {
  let stop = false;
  const halt = () => {
    stop = true;
  };
  sink.once('error', halt);
  sink.once('close', halt);
  void closed.then(halt);
  const chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string> =
    typeof input === 'string' || Buffer.isBuffer(input) ? [input] : input;
  try {
    for await (const chunk of chunks) {
      if (stop) break;
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (bytes.length === 0) continue;
      const ok = sink.write(bytes);
      count(bytes.length);
      if (!ok) await writable(sink, closed);
    }
  } finally {
    sink.off('error', halt);
    sink.off('close', halt);
    if (typeof input !== 'string' && !Buffer.isBuffer(input)) input.destroy();
  }
  if (!stop) sink.end();
}

/** Waits for room in a sink, or for it to be gone; never rejects: the exit status tells why. */
function writable(sink: Writable, closed: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      sink.off('drain', done);
      sink.off('error', done);
      sink.off('close', done);
      resolve();
    };
    sink.once('drain', done);
    sink.once('error', done);
    sink.once('close', done);
    void closed.then(done);
  });
}
