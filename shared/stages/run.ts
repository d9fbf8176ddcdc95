import { runUrl, type ActionContext } from '../context.js';
import { formatError } from '../errors.js';
import { Checklist, runTitle, stoppedSummary } from '../fleet/checklist.js';
import { openFleet, type Connection, type Fleet } from '../fleet/connect.js';
import { dryRunFleet } from '../fleet/dry-run.js';
import { PendingDeployment, type DeploymentTarget } from '../fleet/github-deployment.js';
import { resolveRelease, type ResolvedRelease } from '../fleet/resolve.js';
import { fleetResult } from '../fleet/result.js';
import {
  describePlan,
  plannedReleaseCommand,
  releasePhase,
  type ReleaseCommand,
} from '../fleet/release-command.js';
import { hostReleases, releaseFacts, rollbackHint } from '../fleet/report.js';
import { rollout, type RolloutOptions } from '../fleet/rollout.js';
import { destroySummary, dryRunSummary, runSummary } from '../fleet/summary.js';
import { teardown } from '../fleet/teardown.js';
import { gitHubClient, tokenProblem, type GitHub } from '../github.js';
import type { Commands } from '../host/activate.js';
import { stageDeploy } from '../host/deploy.js';
import { rollbackHost, stageRollback } from '../host/rollback.js';
import type { LockOptions } from '../host/session.js';
import { readHostState } from '../host/state.js';
import type { LedgerScope } from '../ledger.js';
import type { Log } from '../log.js';
import { code } from '../markdown.js';
import { isPreviewEnvironment } from '../names.js';
import { redactSecrets } from '../secrets.js';
import type { AllowedSigner } from '../signature.js';
import type { RunInputs } from './inputs/run.js';
import type { StageResult } from './result.js';
import { checkRun, type CheckedRun } from './run-checks.js';

export interface RunOutputs extends Record<string, string> {
  'release-id': string;
  'previous-release-id': string;
  hosts: string;
  'deployment-id': string;
  url: string;
  'rolled-back': string;
  'bytes-sent': string;
  'host-releases': string;
}

/** What every step of a run works with, from inputs checked before anything happens. */
interface RunSetup {
  inputs: RunInputs;
  context: ActionContext;
  app: string;
  root: string;
  allowedSigners: AllowedSigner[];
  github: GitHub;
  scope: LedgerScope;
  lock: LockOptions;
  commands: Commands;
  releaseCommand: ReleaseCommand | undefined;
  /** The hosts, connected only when a step needs them, closed when the run ends. */
  fleet: Fleet;
  checklist: Checklist;
}

/**
 * Deploys a release to the hosts (or rolls back, or tears down): every input checked, then the
 * release resolved and verified, and only then the hosts connected and a Deployment recorded.
 * A host that fails is a result: the outputs and summary say where each host stands.
 */
export async function run(
  inputs: RunInputs,
  context: ActionContext,
  checked?: CheckedRun,
): Promise<StageResult<RunOutputs>> {
  const checklist = new Checklist();
  try {
    return await steps(inputs, context, checklist, checked);
  } catch (error) {
    // Stopped before any host changed: the summary says what passed and that nothing changed.
    return {
      outputs: runOutputs(inputs, { 'release-id': checklist.commonRelease() ?? '' }),
      summary: stoppedSummary({
        title: runTitle({ ...inputs, app: inputs.app ?? context.repo }),
        error,
        checklist,
      }),
      failure: error instanceof Error ? error : new Error(String(error)),
    };
  }
}

async function steps(
  inputs: RunInputs,
  context: ActionContext,
  checklist: Checklist,
  checked: CheckedRun | undefined,
): Promise<StageResult<RunOutputs>> {
  const setup = setUp(inputs, context, checklist, checked ?? checkRun(inputs, context));
  try {
    if (inputs.destroy) return await destroy(setup);
    const release = await resolveRelease({
      ...setup,
      selector: inputs['release-id'],
      identity: inputs.identity,
      maxExpandedBytes: inputs['max-unpacked-size'],
      tempDir: context.tempDir,
      log: context.log,
    }).catch((error: unknown) => {
      throw tokenProblem(error, 'reading the release') ?? error;
    });
    try {
      return inputs['dry-run'] ? await dryRun(setup, release) : await rollOut(setup, release);
    } finally {
      await release.dispose();
    }
  } finally {
    await setup.fleet.close();
  }
}

function hostsWord(inputs: RunInputs): string {
  return inputs.hosts.length === 1 ? 'host' : 'hosts';
}

/** The hosts, connected: for `previous` already, to read what it means. */
async function connected(setup: RunSetup, release: ResolvedRelease): Promise<Connection[]> {
  const connections = await setup.fleet.connections();
  if (!release.rollback) {
    setup.checklist.pass(`connected to ${connections.length} ${hostsWord(setup.inputs)}`);
  }
  return connections;
}

/** The stage's setup from its checked inputs: the GitHub client, the hosts (not yet connected). */
function setUp(
  inputs: RunInputs,
  context: ActionContext,
  checklist: Checklist,
  checked: CheckedRun,
): RunSetup {
  const { app, root, allowedSigners, access, releaseCommand } = checked;
  const { environment } = inputs;
  const signers = allowedSigners.length;
  checklist.pass(
    `the inputs: ${inputs.hosts.length} ${hostsWord(inputs)} with their keys, the deploy root ${code(root)}${inputs.destroy ? '' : `, ${signers} allowed signer${signers === 1 ? '' : 's'}`}`,
  );
  const github = gitHubClient({ token: inputs.token, apiUrl: context.apiUrl, log: context.log });
  return {
    checklist,
    inputs,
    context,
    app,
    root,
    allowedSigners,
    github,
    scope: { owner: context.owner, repo: context.repo, app, environment },
    lock: {
      holder: `${context.actor || 'someone'} (run ${context.runId || '?'})`,
      run: runUrl(context),
      waitSeconds: inputs['lock-timeout'],
      staleSeconds: inputs['lock-stale-after'],
    },
    commands: {
      ...(inputs.restart !== undefined ? { restart: inputs.restart } : {}),
      ...(inputs['health-check'] !== undefined ? { healthCheck: inputs['health-check'] } : {}),
      healthTimeoutSeconds: inputs['health-timeout'],
    },
    releaseCommand,
    fleet: openFleet(inputs.hosts, access, inputs.parallel),
  };
}

/** Rolls the release out; the Deployment is recorded once the first host is about to change. */
async function rollOut(
  setup: RunSetup,
  release: ResolvedRelease,
): Promise<StageResult<RunOutputs>> {
  const { inputs, context } = setup;
  const { verified } = release;
  const connections = await connected(setup, release);
  const deployment = inputs.deployment
    ? new PendingDeployment(deploymentTarget(setup), deploymentRequest(setup, release))
    : undefined;
  const { outcomes, releaseCommand } = await rollout(
    connections,
    hostSteps(setup, release, deployment),
  ).catch(async (error: unknown) => {
    await deployment?.finish('error', { description: formatError(error) });
    throw error;
  });
  // Recording the Deployment was refused: every host waited for it, so none changed.
  const deploymentId = await deployment?.id();
  const fleet = fleetResult(outcomes, {
    releaseId: verified.manifest.id,
    rollback: release.rollback,
    releaseCommand,
  });
  await deployment?.finish(fleet.failed ? 'failure' : 'success', {
    description: `${verified.manifest.id}: ${fleet.headline}`,
    ...(inputs.url ? { environmentUrl: inputs.url } : {}),
  });
  const where = { ...context, environment: inputs.environment };
  const summary = runSummary({
    ...releaseFacts(setup.app, verified),
    rollback: release.rollback,
    fleet,
    outcomes,
    hint: rollbackHint(where, fleet, verified.manifest.id),
    deploymentId,
    url: inputs.url,
    releaseCommand,
  });
  const outputs = runOutputs(inputs, {
    'release-id': fleet.release ?? '',
    'previous-release-id': fleet.before ?? '',
    'deployment-id': deploymentId !== undefined ? String(deploymentId) : '',
    'rolled-back': String(fleet.rolledBack),
    'bytes-sent': bytesSent(connections),
    'host-releases': hostReleases(outcomes),
  });
  return {
    outputs,
    summary: redactSecrets(summary, release.secretValues),
    ...(fleet.failure ? { failure: fleet.failure } : {}),
  };
}

/** What the rollout runs on each host: a deploy, or for `previous` a switch back. */
function hostSteps(
  setup: RunSetup,
  release: ResolvedRelease,
  deployment: PendingDeployment | undefined,
): RolloutOptions {
  const { inputs, root, lock, commands, checklist } = setup;
  const { log } = setup.context;
  const { hostRelease, verified } = release;
  const id = verified.manifest.id;
  const common = (c: Connection, hostLog: Log) => ({
    root,
    lock,
    log: hostLog,
    reconnect: () => c.reconnect(),
    ...commands,
  });
  const beforeChange = async () => {
    await deployment?.beforeChange();
    checklist.changing = true;
  };
  return {
    parallel: inputs.parallel,
    onFailure: inputs['on-failure'],
    log,
    title: (host) => `${host}: ${release.rollback ? `roll back to ${id}` : `deploy ${id}`}`,
    stage: (c, onPhase, hostLog) =>
      hostRelease
        ? stageDeploy(c.transport, {
            ...common(c, hostLog),
            onPhase,
            beforeChange,
            release: hostRelease,
            keep: inputs.keep,
            sharedPaths: inputs['shared-paths'],
          })
        : stageRollback(c.transport, {
            ...common(c, hostLog),
            onPhase,
            beforeChange,
            to: id,
            manifestBytes: verified.bytes,
          }),
    ...(setup.releaseCommand
      ? { releasePhase: releasePhase({ ...setup.releaseCommand, log }) }
      : {}),
    putBack: (c, to, hostLog) => rollbackHost(c.transport, { ...common(c, hostLog), to }),
    current: async (c) => (await readHostState(c.transport, { root, log })).current,
  };
}

/** A dry run: what each host would get, read from the hosts; nothing changes, nothing is recorded. */
async function dryRun(setup: RunSetup, release: ResolvedRelease): Promise<StageResult<RunOutputs>> {
  const { inputs, root } = setup;
  const { log } = setup.context;
  const { manifest, bytes } = release.verified;
  const hosts = await dryRunFleet(await connected(setup, release), {
    root,
    release: { id: manifest.id, manifestBytes: bytes },
    keep: inputs.keep,
    log,
  });
  const releaseCommand = plannedReleaseCommand(setup.releaseCommand, manifest.id, hosts);
  if (releaseCommand) log.info(describePlan(releaseCommand));
  setup.checklist.read(hosts.map((host) => ({ host: host.host, current: host.current })));
  const before = setup.checklist.commonRelease();
  return {
    outputs: runOutputs(inputs, { 'release-id': manifest.id, 'previous-release-id': before ?? '' }),
    summary: dryRunSummary({ ...releaseFacts(setup.app, release.verified), hosts, releaseCommand }),
  };
}

/** Tears the environment down on every host, then GitHub's record of it. */
async function destroy(setup: RunSetup): Promise<StageResult<RunOutputs>> {
  const { inputs, app, root, github, scope, lock } = setup;
  const { environment } = inputs;
  const torn = await teardown(setup.fleet, {
    app,
    environment,
    root,
    lock,
    log: setup.context.log,
    stopCommand: inputs['stop-command'],
    parallel: inputs.parallel,
    deployments: inputs.deployment ? deploymentTarget(setup) : undefined,
    releases: inputs['delete-releases'] ? { github, scope } : undefined,
  });
  return {
    outputs: { ...runOutputs(inputs, {}), url: '' },
    summary: destroySummary({ app, environment, root, ...torn }),
    ...(torn.failure ? { failure: torn.failure } : {}),
  };
}

/**
 * Bytes sent to each host in this step, as they went on the wire (a failed upload's too), a
 * JSON object by host line: for the outputs.
 */
function bytesSent(connections: readonly Connection[]): string {
  const sent = connections.map((c) => [c.host.label, c.transport.bytesSent] as const);
  return JSON.stringify(Object.fromEntries(sent));
}

function runOutputs(inputs: RunInputs, values: Partial<RunOutputs>): RunOutputs {
  return {
    'release-id': '',
    'previous-release-id': '',
    hosts: inputs.hosts.map((host) => host.label).join('\n'),
    'deployment-id': '',
    url: inputs.url ?? '',
    'rolled-back': 'false',
    'bytes-sent': '{}',
    'host-releases': '',
    ...values,
  };
}

function deploymentTarget(setup: RunSetup): DeploymentTarget {
  const { context } = setup;
  return {
    github: setup.github,
    repository: { owner: context.owner, repo: context.repo },
    logUrl: runUrl(context),
    log: context.log,
  };
}

function deploymentRequest(setup: RunSetup, release: ResolvedRelease) {
  const { environment } = setup.inputs;
  const { manifest, digest } = release.verified;
  return {
    environment,
    sha: manifest.build.sha,
    app: setup.app,
    releaseId: manifest.id,
    manifestDigest: digest,
    description: `${release.rollback ? 'Roll back to' : 'Deploy'} ${manifest.id}: ${manifest.changes}`,
    transient:
      isPreviewEnvironment(environment) || setup.context.eventName.startsWith('pull_request'),
    production: environment === 'production',
    rollback: release.rollback,
  };
}
