import { spawn } from 'node:child_process';

export interface CommandResult {
  code: number;
  /** The last lines of stdout and stderr, interleaved, for error messages. */
  tail: string[];
}

/**
 * Runs a workflow-provided command the way a `run:` step does (bash, -e, pipefail), streaming
 * its output to the log as it comes and keeping the tail for the error message.
 */
export function execBash(
  command: string,
  options: {
    cwd: string;
    env: Readonly<Record<string, string | undefined>>;
    write: (chunk: string) => void;
    tailLines?: number;
  },
): Promise<CommandResult> {
  const keep = options.tailLines ?? 10;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', command], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let recent = '';
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      options.write(text);
      recent = (recent + text).slice(-16384);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const tail = recent
        .split('\n')
        .map((line) => line.trimEnd())
        .filter((line) => line !== '')
        .slice(-keep);
      resolve({ code: code ?? (signal ? 128 : 1), tail });
    });
  });
}
