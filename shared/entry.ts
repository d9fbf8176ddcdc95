import * as core from '@actions/core';
import type { z } from 'zod';
import { contextFromEnv, type ActionContext } from './context.js';
import { parseInputs } from './inputs.js';
import type { StageResult } from './stage.js';

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

export function actionContext(): ActionContext {
  return contextFromEnv(process.env, core);
}

export async function report(result: StageResult<Record<string, string>>): Promise<void> {
  for (const [name, value] of Object.entries(result.outputs)) core.setOutput(name, value);
  if (result.summary) await core.summary.addRaw(result.summary).write();
}
