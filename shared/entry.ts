import { randomUUID } from 'node:crypto';
import { getEventListeners } from 'node:events';
import * as core from '@actions/core';
import type { z } from 'zod';
import { contextFromEnv, type ActionContext } from './context.js';
import { Cancelled, formatError } from './errors.js';
import { parseInputs } from './inputs.js';
import type { Log } from './log.js';
import { codeBlock } from './markdown.js';
import type { StageResult } from './stages/result.js';

/**
 * The edge between the runner and the shared code: the only module below an action's entry
 * that talks to @actions/core and process.env. Stages get plain values.
 */
export function readInputs<S extends z.ZodObject>(schema: S): z.output<S> {
  return parseInputs(schema, (name) => {
    const value = core.getInput(name);
    return value === '' ? undefined : value;
  });
}

export function actionContext(signal?: AbortSignal): ActionContext {
  return contextFromEnv(process.env, runnerLog(), signal);
}

/** The runner's log: @actions/core, with a host's output kept from being read as commands. */
function runnerLog(): Log {
  return {
    info: (message) => core.info(message),
    warning: (message) => core.warning(message),
    debug: (message) => core.debug(message),
    setSecret: (value) => core.setSecret(value),
    group: (name, body) => core.group(name, body),
    output: (text) => {
      // A line such as `::error::` or `::add-mask::` from a host is text, not a command.
      const token = randomUUID();
      core.info(`::stop-commands::${token}`);
      core.info(text);
      core.info(`::${token}::`);
    },
  };
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
 * why without opening the log.
 */
export async function failStep(error: unknown, step: StoppedStep): Promise<void> {
  const line = formatError(error);
  core.setFailed(line);
  try {
    await core.summary
      .addRaw(
        [`### ${step.title}: failed`, '', codeBlock(line), '', step.leftBehind, ''].join('\n'),
      )
      .write();
  } catch {
    // No summary file (a local run): the error line says it all.
  }
}

/** Sets the outputs and writes the summary; a stage's failure then fails the step. */
export async function report(result: StageResult<Record<string, string>>): Promise<void> {
  for (const [name, value] of Object.entries(result.outputs)) core.setOutput(name, value);
  if (result.summary) await core.summary.addRaw(result.summary).write();
  if (result.failure) core.setFailed(formatError(result.failure));
}
