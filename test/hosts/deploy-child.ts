/*
 * Runs one deploy in its own process, so a test can SIGKILL it at a chosen phase the way a
 * cancelled job dies. Reads its job as JSON from argv[2]; prints `phase <name>` as each phase
 * starts, then `result <json>` or `error <message>`.
 */
import { spawn } from 'node:child_process';
import { deployToHost } from './fixtures.js';
import type { LockOptions } from '../../shared/host/session.js';
import { formatError } from '../../shared/errors.js';
import { connectSsh } from '../../shared/host/ssh.js';
import { silentLog } from '../../shared/log.js';
import { appFiles, releaseOf, tarBuffer } from './bundles.js';

export interface ChildJob {
  host: { user: string; port: number; hostLine: string; privateKey: string; knownHosts: string };
  root: string;
  id: string;
  env: Record<string, string>;
  /** Filler added to the sample app, so the upload takes a while. */
  fillerBytes: number;
  restart?: string;
  healthCheck?: string;
  lock: LockOptions;
}

export interface ChildRun {
  phases: string[];
  /** When each phase started, in ms since the child was spawned (parallel to `phases`). */
  startedAt: number[];
  /** When the child exited, on the same clock. */
  endedAt?: number;
  result?: unknown;
  error?: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Starts a child deploy; `killAt` SIGKILLs it `delayMs` after it reports that phase. */
export function runChild(job: ChildJob, killAt?: string, delayMs = 0): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', new URL(import.meta.url).pathname, JSON.stringify(job)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const spawned = performance.now();
    const run: ChildRun = { phases: [], startedAt: [], code: null, signal: null };
    let buffered = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const [kind, ...rest] = line.split(' ');
        const text = rest.join(' ');
        if (kind === 'phase') {
          run.phases.push(text);
          run.startedAt.push(performance.now() - spawned);
          if (text === killAt) setTimeout(() => child.kill('SIGKILL'), delayMs);
        } else if (kind === 'result') run.result = JSON.parse(text);
        else if (kind === 'error') run.error = text;
      }
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      run.endedAt = performance.now() - spawned;
      run.code = code;
      run.signal = signal;
      if (code !== 0 && signal === null && run.error === undefined) run.error = stderr;
      resolve(run);
    });
  });
}

async function main(job: ChildJob): Promise<void> {
  const filler =
    job.fillerBytes > 0 ? [{ name: 'filler.bin', content: Buffer.alloc(job.fillerBytes, 7) }] : [];
  const bundle = await tarBuffer(await appFiles(filler));
  const transport = await connectSsh({
    target: {
      user: job.host.user,
      host: '127.0.0.1',
      port: job.host.port,
      label: job.host.hostLine,
    },
    privateKey: job.host.privateKey,
    knownHosts: job.host.knownHosts,
  });
  try {
    const result = await deployToHost(transport, {
      root: job.root,
      release: await releaseOf(job.id, bundle, job.env),
      ...(job.restart ? { restart: job.restart } : {}),
      ...(job.healthCheck ? { healthCheck: job.healthCheck } : {}),
      healthTimeoutSeconds: 10,
      healthIntervalSeconds: 0.2,
      keep: 10,
      sharedPaths: ['run', 'log'],
      lock: job.lock,
      log: silentLog,
      onPhase: (phase) => process.stdout.write(`phase ${phase}\n`),
    });
    process.stdout.write(`result ${JSON.stringify(result)}\n`);
  } finally {
    await transport.close();
  }
}

if (process.argv[2] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  main(JSON.parse(process.argv[2]) as ChildJob).catch((error: unknown) => {
    process.stdout.write(`error ${formatError(error)}\n`);
    process.exitCode = 1;
  });
}
