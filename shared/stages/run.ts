import { runUrl, type ActionContext } from '../context.js';
import { ConfigurationError, formatError } from '../errors.js';
import {
  checkHostAccess,
  localEnv,
  openFleet,
  proxyJumpOf,
  type Fleet,
  type HostAccess,
} from '../fleet/connect.js';
import { PendingDeployment, type DeploymentTarget } from '../fleet/github-deployment.js';
import { resolveRelease, type ResolvedRelease } from '../fleet/resolve.js';
import { fleetResult } from '../fleet/result.js';
import {
  describePlan,
  plannedReleaseCommand,
  releaseCommandFrom,
  releasePhase,
  type ReleaseCommand,
} from '../fleet/release-command.js';
import { rollout, type RolloutOptions } from '../fleet/rollout.js';
import { destroySummary, dryRunSummary, runSummary, type ReleaseFacts } from '../fleet/summary.js';
import { teardown } from '../fleet/teardown.js';
import { gitHubClient, type GitHub } from '../github.js';
import type { Commands } from '../host/activate.js';
import { stageDeploy } from '../host/deploy.js';
import { rollbackHost, stageRollback } from '../host/rollback.js';
import { deployRoot } from '../host/scripts/root.js';
import type { LockOptions } from '../host/session.js';
import { dryRunHost, readHostState } from '../host/state.js';
import type { LedgerScope } from '../ledger.js';
import { isPreviewEnvironment, resolveApp } from '../names.js';
import { parseAllowedSigners, type AllowedSigner } from '../signature.js';
import type { RunInputs } from './inputs/run.js';
import type { StageResult } from './result.js';

export interface RunOutputs extends Record<string, string> {
  'release-id': string;
  'previous-release-id': string;
  hosts: string;
  'deployment-id': string;
  url: string;
  'rolled-back': string;
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
}

/**
 * Deploys a release to the hosts (or rolls back, or tears down): every input checked, then the
 * release resolved and verified, and only then the hosts connected and a Deployment recorded.
 * A host that fails is a result: the outputs and summary say where each host stands.
 */
export async function run(
  inputs: RunInputs,
  context: ActionContext,
): Promise<StageResult<RunOutputs>> {
  const setup = checkInputs(inputs, context);
  try {
    if (inputs.destroy) return await destroy(setup);
    const release = await resolveRelease({
      ...setup,
      selector: inputs['release-id'],
      identity: inputs.identity,
      tempDir: context.tempDir,
      log: context.log,
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

/** Parses and checks every input: keys, known_hosts, hosts, the deploy root, allowed signers. */
function checkInputs(inputs: RunInputs, context: ActionContext): RunSetup {
  const { log } = context;
  for (const secret of [inputs['ssh-key'], inputs['proxy-jump-key'], inputs.identity]) {
    if (secret) log.setSecret(secret);
  }
  const app = resolveApp(inputs.app, context);
  const { environment } = inputs;
  const root = deployRoot(inputs.path ?? `/srv/${app}/${environment}`);
  // Destroying verifies nothing: it removes what is on the hosts.
  const allowedSigners = inputs.destroy ? [] : parseAllowedSigners(inputs['allowed-signers'] ?? '');
  if (!inputs.destroy && allowedSigners.length === 0) {
    throw new ConfigurationError({
      input: 'allowed-signers',
      expected: 'at least one line like `ci@example.com ssh-ed25519 AAAA…`',
    });
  }
  const access = hostAccess(inputs, context);
  checkHostAccess(inputs.hosts, access);
  const releaseCommand = releaseCommandOf(inputs);
  const github = gitHubClient({ token: inputs.token, apiUrl: context.apiUrl, log });
  return {
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

function hostAccess(inputs: RunInputs, context: ActionContext): HostAccess {
  const proxyJump = proxyJumpOf({
    bastion: inputs['proxy-jump'],
    proxyJumpKey: inputs['proxy-jump-key'],
    sshKey: inputs['ssh-key'],
  });
  return {
    sshKey: inputs['ssh-key'],
    knownHosts: inputs['known-hosts'],
    localEnv: localEnv(context.env),
    ...(proxyJump ? { proxyJump } : {}),
  };
}

function releaseCommandOf(inputs: RunInputs): ReleaseCommand | undefined {
  return releaseCommandFrom({
    command: inputs['release-command'],
    host: inputs['release-command-host'],
    hosts: inputs.hosts,
    timeoutSeconds: inputs['release-command-timeout'],
    onReturn: inputs['release-command-on-rollback'],
  });
}

/** Rolls the release out; the Deployment is recorded once the first host is about to change. */
async function rollOut(
  setup: RunSetup,
  release: ResolvedRelease,
): Promise<StageResult<RunOutputs>> {
  const { inputs } = setup;
  const { verified } = release;
  const connections = await setup.fleet.connections();
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
  const summary = runSummary({
    ...releaseFacts(setup, verified),
    rollback: release.rollback,
    headline: fleet.headline,
    outcomes,
    rollbackTo: !fleet.failed && fleet.before !== verified.manifest.id ? fleet.before : undefined,
    deploymentId,
    url: inputs.url,
    releaseCommand,
  });
  const outputs = runOutputs(inputs, {
    'release-id': fleet.release ?? '',
    'previous-release-id': fleet.before ?? '',
    'deployment-id': deploymentId !== undefined ? String(deploymentId) : '',
    'rolled-back': String(fleet.rolledBack),
  });
  return { outputs, summary, ...(fleet.failure ? { failure: fleet.failure } : {}) };
}

/** What the rollout runs on each host: a deploy, or for `previous` a switch back. */
function hostSteps(
  setup: RunSetup,
  release: ResolvedRelease,
  deployment: PendingDeployment | undefined,
): RolloutOptions {
  const { inputs, root, lock, commands } = setup;
  const { log } = setup.context;
  const { hostRelease, verified } = release;
  const common = { root, lock, log, ...commands };
  const beforeChange = deployment?.beforeChange;
  return {
    parallel: inputs.parallel,
    onFailure: inputs['on-failure'],
    log,
    stage: (c, onPhase) =>
      hostRelease
        ? stageDeploy(c.transport, {
            ...common,
            onPhase,
            beforeChange,
            release: hostRelease,
            keep: inputs.keep,
            sharedPaths: inputs['shared-paths'],
          })
        : stageRollback(c.transport, {
            ...common,
            onPhase,
            beforeChange,
            to: verified.manifest.id,
            manifestBytes: verified.bytes,
          }),
    ...(setup.releaseCommand
      ? { releasePhase: releasePhase({ ...setup.releaseCommand, log }) }
      : {}),
    putBack: (c, to) => rollbackHost(c.transport, { ...common, to }),
    current: async (c) => (await readHostState(c.transport, { root, log })).current,
  };
}

/** A dry run: what each host would get, read from the hosts; nothing changes, nothing is recorded. */
async function dryRun(setup: RunSetup, release: ResolvedRelease): Promise<StageResult<RunOutputs>> {
  const { inputs, root } = setup;
  const { log } = setup.context;
  const { manifest, bytes } = release.verified;
  const connections = await setup.fleet.connections();
  const hosts = await Promise.all(
    connections.map((c) =>
      dryRunHost(c.transport, {
        root,
        release: { id: manifest.id, manifestBytes: bytes },
        keep: inputs.keep,
        log,
      }),
    ),
  );
  for (const host of hosts) {
    const upload = host.upload === 'skip' ? 'reuse' : host.upload;
    const prune = host.prune.length ? `, prune ${host.prune.join(', ')}` : '';
    const problems = host.problems.length ? `; problems: ${host.problems.join('; ')}` : '';
    log.info(
      `host ${host.host}: would ${upload} ${host.releaseId}, switch ${host.current ?? 'nothing'} -> ${host.releaseId}${prune}${problems}`,
    );
  }
  const releaseCommand = plannedReleaseCommand(setup.releaseCommand, manifest.id, hosts);
  if (releaseCommand) log.info(describePlan(releaseCommand));
  const currents = new Set(hosts.map((host) => host.current));
  const before = currents.size === 1 ? hosts[0]?.current : undefined;
  return {
    outputs: runOutputs(inputs, { 'release-id': manifest.id, 'previous-release-id': before ?? '' }),
    summary: dryRunSummary({ ...releaseFacts(setup, release.verified), hosts, releaseCommand }),
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

function runOutputs(inputs: RunInputs, values: Partial<RunOutputs>): RunOutputs {
  return {
    'release-id': '',
    'previous-release-id': '',
    hosts: inputs.hosts.map((host) => host.label).join('\n'),
    'deployment-id': '',
    url: inputs.url ?? '',
    'rolled-back': 'false',
    ...values,
  };
}

function releaseFacts(setup: RunSetup, verified: ResolvedRelease['verified']): ReleaseFacts {
  return {
    app: setup.app,
    environment: setup.inputs.environment,
    releaseId: verified.manifest.id,
    releaseUrl: verified.entry.url,
    manifest: verified.manifest,
    manifestDigest: verified.digest,
    signer: verified.signer.principal,
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
