import { spawn } from 'node:child_process';
import { awaitCommand, type ExecOptions, type ExecResult, type Transport } from './transport.js';

export interface LocalOptions {
  /** The environment of the scripts; the action's own when not given. */
  env?: NodeJS.ProcessEnv;
  /** Seconds a command may keep its output open after it exited (a daemon it started). */
  closeGraceSeconds?: number;
}

/** This machine as a host: for self-hosted runners and the demo. */
export function localTransport(options: LocalOptions = {}): Transport {
  let sent = 0;
  const graceMs = (options.closeGraceSeconds ?? 2) * 1000;
  return {
    label: 'local',
    get bytesSent() {
      return sent;
    },
    exec(script: string, execOptions: ExecOptions = {}): Promise<ExecResult> {
      // Its own process group, so an abort ends the script and what it started, by group id.
      const child = spawn('/bin/sh', ['-c', script], {
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
        ...(options.env ? { env: options.env } : {}),
      });
      const command = {
        events: child,
        errors: child,
        stdout: child.stdout,
        stderr: child.stderr,
        stdin: child.stdin,
        kill: () => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // The group is gone already.
          }
        },
        release: () => {
          child.stdout.destroy();
          child.stderr.destroy();
          child.stdin.destroy();
        },
      };
      return awaitCommand(command, {
        ...execOptions,
        graceMs,
        count: (bytes) => (sent += bytes),
      });
    },
    close: () => Promise.resolve(),
  };
}
