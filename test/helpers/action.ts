import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { scratchDir } from './scratch.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export type ActionName = '.' | 'build-action' | 'release-action' | 'run-action';

export interface ActionOptions {
  /** Folder of the action under the repository root; '.' is the root "ship" action. */
  action: ActionName;
  inputs?: Record<string, string | undefined>;
  /** Extra variables: the emulator's env, overrides of the GITHUB_* context. */
  env?: Record<string, string | undefined>;
  eventName?: string;
  event?: unknown;
  /** The job's workspace; a new temporary directory when not given. */
  workspace?: string;
  timeoutMs?: number;
}

export interface ActionRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  outputs: Record<string, string>;
  summary: string;
  /** stdout and stderr interleaved as the runner shows them. */
  log: string;
  /** `::error::` messages, unescaped. */
  errors: string[];
  /** Variables the step exported through GITHUB_ENV. */
  exported: Record<string, string>;
  workspace: string;
}

interface ActionYml {
  inputs?: Record<string, { default?: string; required?: boolean }>;
}

/** The runner's name mangling: spaces to underscores, upper case, hyphens kept. */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/** Reads the name=value and name<<DELIM forms of GITHUB_OUTPUT and GITHUB_ENV files. */
export function parseCommandFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc as unknown as [string, string, string];
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) body.push(lines[i] ?? '');
      values[name] = body.join('\n');
      continue;
    }
    const at = line.indexOf('=');
    if (at > 0) values[line.slice(0, at)] = line.slice(at + 1);
  }
  return values;
}

function unescapeCommandData(value: string): string {
  return value.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

async function actionDefaults(action: ActionName): Promise<ActionYml['inputs']> {
  const yml = parseYaml(await readFile(path.join(ROOT, action, 'action.yml'), 'utf8')) as ActionYml;
  return yml.inputs ?? {};
}

export interface StartedAction {
  child: ChildProcess;
  result: Promise<ActionRun>;
}

/**
 * Starts an action's built dist/index.js as the GitHub runner does: a fresh node process with
 * INPUT_* variables (defaults from action.yml filled in), the GITHUB_* context, and the
 * GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / GITHUB_ENV / GITHUB_STATE / GITHUB_EVENT_PATH files.
 */
export async function startAction(options: ActionOptions): Promise<StartedAction> {
  const scratch = await scratchDir('brr-step-');
  const workspace = options.workspace ?? path.join(scratch, 'workspace');
  const runnerTemp = path.join(scratch, 'runner-temp');
  await mkdir(workspace, { recursive: true });
  await mkdir(runnerTemp, { recursive: true });
  const files = {
    GITHUB_OUTPUT: path.join(scratch, 'output'),
    GITHUB_STEP_SUMMARY: path.join(scratch, 'summary.md'),
    GITHUB_ENV: path.join(scratch, 'env'),
    GITHUB_STATE: path.join(scratch, 'state'),
    GITHUB_PATH: path.join(scratch, 'path'),
    GITHUB_EVENT_PATH: path.join(scratch, 'event.json'),
  };
  for (const file of Object.values(files)) await writeFile(file, '');
  await writeFile(files.GITHUB_EVENT_PATH, JSON.stringify(options.event ?? {}));

  const context: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? scratch,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_REPOSITORY_OWNER: 'acme',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_REF_NAME: 'main',
    GITHUB_EVENT_NAME: options.eventName ?? 'push',
    GITHUB_WORKFLOW: 'deploy',
    GITHUB_JOB: 'deploy',
    GITHUB_ACTOR: 'octocat',
    GITHUB_RUN_ID: '1001',
    GITHUB_RUN_NUMBER: '1',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.com',
    GITHUB_WORKSPACE: workspace,
    RUNNER_TEMP: runnerTemp,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    RUNNER_NAME: 'test-runner',
    ...files,
  };
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete context[name];
    else context[name] = value;
  }

  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries((await actionDefaults(options.action)) ?? {})) {
    if (spec.default === undefined) continue;
    inputs[name] = spec.default.replace(
      /\$\{\{\s*github\.token\s*\}\}/g,
      context.GITHUB_TOKEN ?? '',
    );
  }
  for (const [name, value] of Object.entries(options.inputs ?? {})) {
    if (value === undefined) delete inputs[name];
    else inputs[name] = value;
  }
  for (const [name, value] of Object.entries(inputs)) context[inputVariable(name)] = value;

  const child = spawn(process.execPath, [path.join(ROOT, options.action, 'dist', 'index.js')], {
    cwd: workspace,
    env: context,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const timeout = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);

  const result = new Promise<ActionRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timeout);
      void (async () => {
        const errors = [...log.matchAll(/^::error(?: [^:]*)?::(.*)$/gm)].map((m) =>
          unescapeCommandData(m[1] ?? ''),
        );
        resolve({
          code,
          signal,
          outputs: parseCommandFile(await readFile(files.GITHUB_OUTPUT, 'utf8')),
          summary: await readFile(files.GITHUB_STEP_SUMMARY, 'utf8'),
          exported: parseCommandFile(await readFile(files.GITHUB_ENV, 'utf8')),
          log,
          errors,
          workspace,
        });
      })().catch(reject);
    });
  });
  return { child, result };
}

/** Runs an action to the end. */
export async function runAction(options: ActionOptions): Promise<ActionRun> {
  return (await startAction(options)).result;
}

/** A unique suffix for names that must not collide between tests. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/**
 * The log as the runner shows it: the `::stop-commands::` lines that fence a host's output, and
 * the lines that end them, are read by the runner, not shown.
 */
export function shownLog(log: string): string {
  const tokens = [...log.matchAll(/^::stop-commands::(.+)$/gm)].map((m) => m[1]);
  return log
    .split('\n')
    .filter(
      (line) =>
        !line.startsWith('::stop-commands::') && !tokens.includes(/^::(.+)::$/.exec(line)?.[1]),
    )
    .join('\n');
}

/** Lines of a log outside every `::group::`: what a person sees without unfolding anything. */
export function ungroupedLines(log: string): string[] {
  let depth = 0;
  return log.split('\n').filter((line) => {
    if (line.startsWith('::group::')) depth++;
    else if (line.startsWith('::endgroup::')) depth = Math.max(0, depth - 1);
    else return depth === 0;
    return false;
  });
}

/** What @actions/artifact and @actions/cache print as they work. */
export const CLIENT_CHATTER =
  /Artifact name is valid|Beginning upload of artifact|Finalizing artifact upload|Cache restored from key|Cache saved with key|Cache Size:|Downloading single artifact|Starting download of artifact/;
