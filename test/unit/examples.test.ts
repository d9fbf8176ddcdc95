import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { registerHooks } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT, readActionYml, type ActionYml } from '../../scripts/docs.js';

/*
 * Example workflows and action.yml files are checked with @actions/workflow-parser, the parser
 * and schemas of GitHub's own Actions language services: it knows `node24`, `environment.deployment`
 * and which contexts each field may use (a `${{ secrets.X }}` where GitHub would refuse it).
 * It imports its JSON schemas without an import attribute, which Node refuses: add the attribute.
 */
registerHooks({
  load(url, context, nextLoad) {
    return url.includes('/@actions/workflow-parser/') && url.endsWith('.json')
      ? nextLoad(url, { ...context, importAttributes: { type: 'json' } })
      : nextLoad(url, context);
  },
});
const { NoOperationTraceWriter, convertWorkflowTemplate, parseWorkflow } =
  await import('@actions/workflow-parser');
const { parseAction } = await import('@actions/workflow-parser/actions/index');

const WORKFLOWS = path.join(ROOT, 'examples', 'workflows');
const ACTIONS = {
  '.': 'action.yml',
  'build-action': 'build-action/action.yml',
  'release-action': 'release-action/action.yml',
  'run-action': 'run-action/action.yml',
} as const;
type ActionDir = keyof typeof ACTIONS;

/** How users reference the actions: `<owner>/build-release-run[/<dir>]@v1`. */
const OUR_ACTION = /^[A-Za-z0-9-]+\/build-release-run(?:\/([a-z-]+))?@v1$/;

const trace = new NoOperationTraceWriter();

async function workflowErrors(name: string, content: string): Promise<string[]> {
  const parsed = parseWorkflow({ name, content }, trace);
  const errors = parsed.context.errors.getErrors().map((error) => error.message);
  if (errors.length > 0 || parsed.value === undefined) return errors;
  const template = await convertWorkflowTemplate(parsed.context, parsed.value);
  return (template.errors ?? []).map((error) => error.Message);
}

function actionErrors(name: string, content: string): string[] {
  return parseAction({ name, content }, trace)
    .context.errors.getErrors()
    .map((error) => error.message);
}

async function workflowFiles(): Promise<string[]> {
  return (await readdir(WORKFLOWS)).filter((name) => name.endsWith('.yml')).sort();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface OurStep {
  where: string;
  action: ActionDir;
  id?: string;
  with: Record<string, unknown>;
}

interface OurJob {
  name: string;
  steps: OurStep[];
  /** Every string in the job, for the expressions it holds. */
  text: string;
}

/** The steps of a workflow that use one of this repository's actions. */
function ourJobs(file: string, workflow: unknown): OurJob[] {
  const jobs = isRecord(workflow) && isRecord(workflow.jobs) ? workflow.jobs : {};
  return Object.entries(jobs).map(([name, job]) => {
    const steps = isRecord(job) && Array.isArray(job.steps) ? job.steps : [];
    const ours: OurStep[] = [];
    steps.forEach((step: unknown, index) => {
      if (!isRecord(step) || typeof step.uses !== 'string') return;
      const where = `${file} jobs.${name}.steps[${index}]`;
      if (!step.uses.includes('build-release-run')) return;
      const match = OUR_ACTION.exec(step.uses);
      const dir = match ? (match[1] ?? '.') : undefined;
      if (dir === undefined || !(dir in ACTIONS)) {
        throw new Error(`${where}: uses ${step.uses}, which is not one of our actions at @v1`);
      }
      ours.push({
        where,
        action: dir as ActionDir,
        id: typeof step.id === 'string' ? step.id : undefined,
        with: isRecord(step.with) ? step.with : {},
      });
    });
    return { name, steps: ours, text: JSON.stringify(job) };
  });
}

/** What is wrong with how a workflow uses our actions: unknown inputs, missing required ones, unknown outputs. */
function usageProblems(
  file: string,
  workflow: unknown,
  actions: Record<ActionDir, ActionYml>,
): string[] {
  const problems: string[] = [];
  for (const job of ourJobs(file, workflow)) {
    for (const step of job.steps) {
      const action = actions[step.action];
      for (const input of Object.keys(step.with)) {
        if (!(input in action.inputs)) {
          problems.push(`${step.where}: input '${input}' is not in ${ACTIONS[step.action]}`);
        }
      }
      for (const [input, spec] of Object.entries(action.inputs)) {
        if (spec.required === true && spec.default === undefined && !(input in step.with)) {
          problems.push(`${step.where}: required input '${input}' is not given`);
        }
      }
    }
    const byId = new Map(job.steps.flatMap((step) => (step.id ? [[step.id, step] as const] : [])));
    for (const [, id, output] of job.text.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
      const step = byId.get(id!);
      if (step && !(output! in actions[step.action].outputs)) {
        problems.push(
          `${file} jobs.${job.name}: steps.${id}.outputs.${output} is not an output of ${ACTIONS[step.action]}`,
        );
      }
    }
  }
  return problems;
}

async function loadActions(): Promise<Record<ActionDir, ActionYml>> {
  const entries = await Promise.all(
    Object.entries(ACTIONS).map(
      async ([dir, file]) => [dir, await readActionYml(path.join(ROOT, file))] as const,
    ),
  );
  return Object.fromEntries(entries) as Record<ActionDir, ActionYml>;
}

describe('example workflows', () => {
  it('are the four the docs name', async () => {
    expect(await workflowFiles()).toEqual([
      'deploy.yml',
      'fleet.yml',
      'preview.yml',
      'rollback.yml',
    ]);
  });

  it('are valid workflows for GitHub', async () => {
    for (const file of await workflowFiles()) {
      const content = await readFile(path.join(WORKFLOWS, file), 'utf8');
      expect(await workflowErrors(file, content), file).toEqual([]);
    }
  });

  it('give our actions only inputs they have, every required one, and read only outputs they set', async () => {
    const actions = await loadActions();
    let steps = 0;
    for (const file of await workflowFiles()) {
      const workflow: unknown = parseYaml(await readFile(path.join(WORKFLOWS, file), 'utf8'));
      steps += ourJobs(file, workflow).reduce((sum, job) => sum + job.steps.length, 0);
      expect(usageProblems(file, workflow, actions)).toEqual([]);
    }
    expect(steps).toBeGreaterThanOrEqual(10);
  });

  it('read only the secrets and vars that docs/keys.md explains', async () => {
    const keys = await readFile(path.join(ROOT, 'docs', 'keys.md'), 'utf8');
    const fleet = await readFile(path.join(WORKFLOWS, 'fleet.yml'), 'utf8');
    const names = new Set<string>();
    for (const file of await workflowFiles()) {
      const text = await readFile(path.join(WORKFLOWS, file), 'utf8');
      for (const [, name] of text.matchAll(/\b(?:secrets|vars)\.([A-Z][A-Z0-9_]*)/g)) {
        names.add(name!);
      }
    }
    expect([...names].sort()).toEqual([
      'AGE_IDENTITY',
      'AGE_RECIPIENTS',
      'DEPLOY_HOSTS',
      'DEPLOY_HOSTS_CANARY',
      'DEPLOY_KNOWN_HOSTS',
      'DEPLOY_SSH_KEY',
      'RELEASE_ALLOWED_SIGNERS',
      'RELEASE_SIGNING_KEY',
    ]);
    for (const name of names) {
      const explained = name.startsWith('DEPLOY_HOSTS_') ? fleet : keys;
      expect(explained, name).toContain(name);
    }
  });

  it('rollback defaults to the previous release and offers each environment', async () => {
    const rollback: unknown = parseYaml(
      await readFile(path.join(WORKFLOWS, 'rollback.yml'), 'utf8'),
    );
    expect(rollback).toMatchObject({
      on: {
        workflow_dispatch: {
          inputs: {
            environment: { type: 'choice', options: ['staging', 'production'] },
            'release-id': { default: 'previous' },
          },
        },
      },
    });
  });

  it('preview deploys on open, push and reopen, and destroys on close', async () => {
    const preview = parseYaml(await readFile(path.join(WORKFLOWS, 'preview.yml'), 'utf8')) as {
      on: unknown;
      jobs: Record<string, { if?: string; steps?: { with?: Record<string, unknown> }[] }>;
    };
    expect(preview.on).toEqual({
      pull_request: { types: ['opened', 'synchronize', 'reopened', 'closed'] },
    });
    expect(preview.jobs.deploy?.if).toContain("github.event.action != 'closed'");
    expect(preview.jobs.destroy?.if).toContain("github.event.action == 'closed'");
    expect(preview.jobs.destroy?.steps?.at(-1)?.with).toMatchObject({ destroy: true });
  });

  it('never cancel a deploy in progress, and ask for no permission at the top', async () => {
    for (const file of await workflowFiles()) {
      const workflow: unknown = parseYaml(await readFile(path.join(WORKFLOWS, file), 'utf8'));
      expect(workflow, file).toMatchObject({ permissions: {} });
      for (const job of ourJobs(file, workflow)) {
        const deploys = job.steps.some((step) => step.action === 'run-action');
        if (!deploys) continue;
        const spec = isRecord(workflow) && isRecord(workflow.jobs) ? workflow.jobs[job.name] : {};
        expect(spec, `${file} jobs.${job.name}`).toMatchObject({
          concurrency: { 'cancel-in-progress': false },
          permissions: { deployments: 'write' },
        });
      }
    }
  });
});

describe('the checks catch mistakes', () => {
  const base = `on: push
permissions: {}
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - id: release
        uses: acme/build-release-run/release-action@v1
        with:
          environment: staging
          signing-key: \${{ secrets.RELEASE_SIGNING_KEY }}
`;

  it('an input the action does not have, a missing required input, an unknown output', async () => {
    const actions = await loadActions();
    const workflow: unknown = parseYaml(
      `${base}          recipient: age1example
      - uses: acme/build-release-run/run-action@v1
        with:
          environment: staging
          release-id: \${{ steps.release.outputs.release_id }}
`,
    );
    expect(usageProblems('bad.yml', workflow, actions)).toEqual([
      "bad.yml jobs.deploy.steps[0]: input 'recipient' is not in release-action/action.yml",
      "bad.yml jobs.deploy.steps[1]: required input 'hosts' is not given",
      'bad.yml jobs.deploy: steps.release.outputs.release_id is not an output of release-action/action.yml',
    ]);
  });

  it('a path or version of ours that does not exist', async () => {
    const actions = await loadActions();
    const workflow: unknown = parseYaml(
      base.replace('build-release-run/release-action@v1', 'build-release-run/release@v1'),
    );
    expect(() => usageProblems('bad.yml', workflow, actions)).toThrow(
      'bad.yml jobs.deploy.steps[0]: uses acme/build-release-run/release@v1, which is not one of our actions at @v1',
    );
  });

  it('a workflow GitHub would refuse', async () => {
    const errors = await workflowErrors(
      'bad.yml',
      `${base.replace('permissions: {}', 'permissions: { deployment: write }')}
  destroy:
    if: \${{ secrets.DEPLOY_SSH_KEY != '' }}
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: true
`,
    );
    expect(errors.join('\n')).toContain("Unexpected value 'deployment'");
    expect(errors.join('\n')).toContain("Unrecognized named-value: 'secrets'");
  });

  it('an action.yml GitHub would fail to load', async () => {
    const content = (await readFile(path.join(ROOT, 'release-action/action.yml'), 'utf8')).replace(
      "'Plain config as a JSON object, usually the expression toJSON(vars).'",
      "'Plain config as a JSON object, usually ${{ toJSON(vars) }}.'",
    );
    expect(actionErrors('action.yml', content)).toEqual([
      expect.stringContaining("Unrecognized named-value: 'vars'"),
    ]);
  });
});

describe('action.yml files', () => {
  it.each(Object.entries(ACTIONS))('%s is valid for GitHub and runs on node24', async (_, file) => {
    const content = await readFile(path.join(ROOT, file), 'utf8');
    expect(actionErrors(file, content)).toEqual([]);
    expect(parseYaml(content)).toMatchObject({ runs: { using: 'node24', main: 'dist/index.js' } });
  });
});

describe('the systemd unit template', () => {
  const UNIT = path.join(ROOT, 'examples', 'systemd', 'app.service');

  function settings(text: string): Map<string, string> {
    const map = new Map<string, string>();
    for (const line of text.split('\n')) {
      const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
      if (match) map.set(match[1]!, match[2]!);
    }
    return map;
  }

  it('runs the current release with its own .env and restarts it whatever happens', async () => {
    const unit = settings(await readFile(UNIT, 'utf8'));
    const workingDirectory = unit.get('WorkingDirectory') ?? '';
    expect(workingDirectory).toMatch(/^\/.+\/current$/);
    expect(unit.get('EnvironmentFile')).toBe(`${workingDirectory}/.env`);
    expect(unit.get('Restart')).toBe('always');
    expect(unit.get('WantedBy')).toBe('multi-user.target');
  });

  it('passes systemd-analyze verify with no warning', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'brr-unit-'));
    try {
      // systemd-analyze names units by file name; the unit installs as shop.service.
      const file = path.join(dir, 'shop.service');
      await writeFile(file, await readFile(UNIT, 'utf8'));
      const { stdout, stderr } = await promisify(execFile)('systemd-analyze', ['verify', file]);
      expect(`${stdout}${stderr}`).toBe('');

      await writeFile(
        file,
        (await readFile(UNIT, 'utf8')).replace('Restart=always', 'Restart=sometimes'),
      );
      const broken = await promisify(execFile)('systemd-analyze', ['verify', file]);
      expect(broken.stderr).toContain('Failed to parse service restart specifier');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
