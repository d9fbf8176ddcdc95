import { spawn } from 'node:child_process';
import {
  feed,
  OutputBuffer,
  type ExecOptions,
  type ExecResult,
  type Transport,
} from './transport.js';

export interface LocalOptions {
  /** The environment of the scripts; the action's own when not given. */
  env?: NodeJS.ProcessEnv;
  /** Seconds a command may keep its output open after it exited (a daemon it started). */
  closeGraceSeconds?: number;
}

/** This machine as a host: for self-hosted runners and the demo. */
export function localTransport(options: LocalOptions = {}): Transport {
  let sent = 0;
  const grace = (options.closeGraceSeconds ?? 2) * 1000;
  return {
    label: 'local',
    get bytesSent() {
      return sent;
    },
    exec(script: string, execOptions: ExecOptions = {}): Promise<ExecResult> {
      return new Promise<ExecResult>((resolve, reject) => {
        // Its own process group, so an abort ends the script and what it started, by group id.
        const child = spawn('/bin/sh', ['-c', script], {
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: true,
          ...(options.env ? { env: options.env } : {}),
        });
        const stdout = new OutputBuffer();
        const stderr = new OutputBuffer();
        let bytesSent = 0;
        let exit: { code: number | null; signal: string | null } | undefined;
        let settled = false;
        const finish = () => {
          if (settled) return;
          settled = true;
          execOptions.signal?.removeEventListener('abort', abort);
          child.stdout.destroy();
          child.stderr.destroy();
          child.stdin.destroy();
          resolve({
            code: exit?.code ?? null,
            signal: exit?.signal ?? null,
            stdout: stdout.take(),
            stderr: stderr.take(),
            bytesSent,
          });
        };
        const killGroup = () => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // The group is gone already.
          }
        };
        const abort = () => {
          killGroup();
          exit ??= { code: null, signal: 'KILL' };
          finish();
        };
        child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
        child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        child.stdin.on('error', () => undefined);
        const fail = (error: Error) => {
          if (settled) return;
          settled = true;
          execOptions.signal?.removeEventListener('abort', abort);
          killGroup();
          reject(error);
        };
        child.once('error', fail);
        const exited = new Promise<void>((done) =>
          child.once('exit', (code, signal) => {
            exit = { code, signal };
            // A daemon started by the script may hold stdout open; don't wait for it for long.
            setTimeout(finish, grace).unref();
            done();
          }),
        );
        child.once('close', finish);
        if (execOptions.signal?.aborted) abort();
        execOptions.signal?.addEventListener('abort', abort);
        const input = execOptions.stdin;
        if (input === undefined) {
          child.stdin.end();
        } else {
          feed(
            input,
            child.stdin,
            (bytes) => {
              bytesSent += bytes;
              sent += bytes;
            },
            exited,
          ).catch((error: unknown) =>
            fail(error instanceof Error ? error : new Error(String(error))),
          );
        }
      });
    },
    close: () => Promise.resolve(),
  };
}
