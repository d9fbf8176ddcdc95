import { getEventListeners } from 'node:events';
import { appendFile } from 'node:fs/promises';
import { EOL } from 'node:os';
import type { z } from 'zod';
import { contextFromEnv, type ActionContext } from './context.js';
import { Cancelled, formatError } from './errors.js';
import { parseInputs } from './inputs.js';
import { codeBlock } from './markdown.js';
import type { StageResult } from './stages/result.js';

/**
 * The edge between the runner and the shared code: the only module below an action's entry
 * that talks to @actions/core and process.env. Stages get plain values. @actions/core (and the
 * HTTP client it loads) is imported only once the inputs are good: a step that stops at a bad
 * input reads its inputs and prints its error as the runner's protocol says, without it.
 */
export function readInputs<S extends z.ZodObject>(schema: S): z.output<S> {
  return parseInputs(schema, (name) => {
    // As core.getInput reads them: INPUT_ and the name upper-cased, spaces as `_`, trimmed.
    const value = process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`]?.trim() ?? '';
    return value === '' ? undefined : value;
  });
}

/** Fails the step with one `::error::` line, as core.setFailed does. */
export function fail(message: string): void {
  process.exitCode = 1;
  const data = message.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  process.stdout.write(`::error::${data}${EOL}`);
}

export async function actionContext(signal?: AbortSignal): Promise<ActionContext> {
  const core = await import('@actions/core');
  return contextFromEnv(process.env, core, signal);
}

const CANCEL_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Aborts when the runner cancels the job: it sends SIGINT, then SIGTERM, then kills the process
 * about 7.5 s after the first. A stage listens only while it holds something to undo; a signal
 * that finds no one listening ends the process as it would with no handler installed.
 */
export function cancellation(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    // Already undoing: the runner's kill bounds how long that may take.
    if (controller.signal.aborted) return;
    if (getEventListeners(controller.signal, 'abort').length === 0) {
      for (const name of CANCEL_SIGNALS) process.off(name, onSignal);
      process.kill(process.pid, signal);
      return;
    }
    controller.abort(new Cancelled(`the job was cancelled (${signal})`));
  };
  for (const name of CANCEL_SIGNALS) process.on(name, onSignal);
  return controller.signal;
}

/**
 * Ends a cancelled step as soon as it has reported: a request its stage gave up on would hold the
 * process open until the runner kills it.
 */
export function endIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) process.exit();
}

/** What a step that failed before it had a result says in its job summary. */
export interface StoppedStep {
  /** The step, as its summary names it: `Build`, `Release`, `Deploy`. */
  title: string;
  /** What the failure leaves behind, said plainly: "No release was published." */
  leftBehind: string;
}

/**
 * Fails a step that threw before it had a result (bad inputs, a missing build): one line on the
 * log, and a job summary holding that line and what it leaves behind, so the run's page says
 * why without opening the log. The summary is appended to the runner's file as
 * core.summary.write does, without loading @actions/core for a step that stops at its inputs.
 */
export async function failStep(error: unknown, step: StoppedStep): Promise<void> {
  const line = formatError(error);
  fail(line);
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file) return;
  const summary = [`### ${step.title}: failed`, '', codeBlock(line), '', step.leftBehind, ''];
  await appendFile(file, `${summary.join('\n')}\n`).catch(() => undefined);
}

/** Sets the outputs and writes the summary; a stage's failure then fails the step. */
export async function report(result: StageResult<Record<string, string>>): Promise<void> {
  const core = await import('@actions/core');
  for (const [name, value] of Object.entries(result.outputs)) core.setOutput(name, value);
  if (result.summary) await core.summary.addRaw(result.summary).write();
  if (result.failure) core.setFailed(formatError(result.failure));
}
