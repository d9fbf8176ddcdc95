import { rm } from 'node:fs/promises';
import { checkedTar } from '../bundle.js';
import { runUrl as runAddress, type ActionContext } from '../context.js';
import { ConfigurationError, formatError } from '../errors.js';
import { gitHubClient, type GitHub } from '../github.js';
import {
  deployToHost,
  planHost,
  readHostState,
  rollbackHost,
  type HostRelease,
  type HostResult,
  type LockOptions,
} from '../hosts/engine.js';
import { checkSharedPath, deployRoot } from '../hosts/plan.js';
import { findRelease, type LedgerScope } from '../ledger.js';
import { isPreviewEnvironment, resolveApp } from '../names.js';
import { finishDeployment, startDeployment } from '../run/deployment.js';
import {
  deactivateDeployments,
  deleteReleases,
  destroyOnHosts,
  destroySummary,
  type DestroyedHost,
} from '../run/destroy.js';
import {
  activateFleet,
  checkHostAccess,
  closeAll,
  connectHosts,
  outcomeFailed,
  type Connection,
  type HostAccess,
  type HostOutcome,
} from '../run/hosts.js';
import { previousFromHosts, resolveFromLedger } from '../run/resolve.js';
import { planSummary, runSummary } from '../run/summary.js';
import type { Log } from '../log.js';
import { parseAllowedSigners } from '../signature.js';
import type { StageResult } from '../stage.js';
import {
  releaseConfig,
  verifyBundle,
  verifyManifest,
  type VerifiedBundle,
  type VerifiedManifest,
} from '../verify.js';
import type { RunInputs } from './inputs/run.js';

export interface RunOutputs extends Record<string, string> {
  'release-id': string;
  'previous-release-id': string;
  hosts: string;
  'deployment-id': string;
  url: string;
  'rolled-back': string;
}

/**
 * The run failed on a host (a health check, a lock, a full disk): its outputs and summary still
 * tell what each host runs now, so the entry reports them before failing the step.
 */
export class RunFailed extends ConfigurationError {
  constructor(
    message: string,
    readonly result: StageResult<RunOutputs>,
  ) {
    super(message);
  }
}

/** Variables the `local` host's commands get: enough to find tools, none of the action's inputs. */
const LOCAL_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

function localEnv(env: ActionContext['env']): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of LOCAL_ENV) {
    const value = env[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/** Only one value, or nothing when the hosts differ. */
function common(values: readonly (string | undefined)[]): string | undefined {
  const set = new Set(values);
  return set.size === 1 ? values[0] : undefined;
}

export async function run(
  inputs: RunInputs,
  context: ActionContext,
): Promise<StageResult<RunOutputs>> {
  const { log } = context;
  for (const secret of [inputs['ssh-key'], inputs.identity]) if (secret) log.setSecret(secret);
  const app = resolveApp(inputs.app, context);
  const { environment } = inputs;
  const root = deployRoot(inputs.path ?? `/srv/${app}/${environment}`);
  const sharedPaths = inputs['shared-paths'].map(checkSharedPath);
  // Destroying verifies nothing: it removes what is on the hosts.
  const allowedSigners = inputs.destroy ? [] : parseAllowedSigners(inputs['allowed-signers'] ?? '');
  if (!inputs.destroy && allowedSigners.length === 0) {
    throw new ConfigurationError(
      "Input 'allowed-signers': expected at least one line like `ci@example.com ssh-ed25519 AAAA…`",
    );
  }
  const access: HostAccess = {
    sshKey: inputs['ssh-key'],
    knownHosts: inputs['known-hosts'],
    localEnv: localEnv(context.env),
  };
  checkHostAccess(inputs.hosts, access);

  const github = gitHubClient({ token: inputs.token, apiUrl: context.apiUrl, log });
  const repository = { owner: context.owner, repo: context.repo };
  const scope: LedgerScope = { ...repository, app, environment };
  const runUrl = runAddress(context);
  const lock: LockOptions = {
    holder: `${context.actor || 'someone'} (run ${context.runId || '?'})`,
    run: runUrl,
    waitSeconds: inputs['lock-timeout'],
  };
  const activation = {
    root,
    lock,
    log,
    ...(inputs.restart !== undefined ? { restart: inputs.restart } : {}),
    ...(inputs['health-check'] !== undefined ? { healthCheck: inputs['health-check'] } : {}),
    healthTimeoutSeconds: inputs['health-timeout'],
  };

  if (inputs.destroy) {
    return destroy(inputs, {
      app,
      environment,
      root,
      lock,
      access,
      github,
      scope,
      runUrl,
      log,
    });
  }

  let connections: Connection[] | undefined;
  let bundle: VerifiedBundle | undefined;
  try {
    const rollback = inputs['release-id'] === 'previous';
    let verified: VerifiedManifest;
    if (rollback) {
      // Only the hosts know what `previous` is; reading their state changes nothing.
      connections = await connectHosts(inputs.hosts, access, inputs.parallel);
      const states = await Promise.all(
        connections.map((c) => readHostState(c.transport, { root, log })),
      );
      const previous = previousFromHosts(states);
      log.info(`previous: ${previous.id} (the hosts run ${previous.current ?? 'nothing'})`);
      const entry = await findRelease(github, scope, previous.id);
      if (!entry) {
        throw new ConfigurationError(
          `Input 'release-id': previous: the hosts name ${previous.id}, but ${app}/${environment} has no published release ${previous.id}`,
        );
      }
      verified = await verifyManifest(github, scope, entry, allowedSigners);
      for (const state of states) {
        const copy = state.releases.find((r) => r.id === previous.id);
        if (copy?.manifestDigest !== verified.digest) {
          throw new ConfigurationError(
            `host ${state.host}: releases/${previous.id} does not hold the signed release.json of ${entry.tag} (${copy?.manifestDigest ?? 'none'} vs ${verified.digest}); deploy release-id ${previous.id} to replace it`,
          );
        }
      }
    } else {
      const entry = await resolveFromLedger(github, scope, inputs['release-id']);
      verified = await verifyManifest(github, scope, entry, allowedSigners);
    }
    const { manifest, entry } = verified;
    log.info(
      `${entry.tag}: ${manifest.changes} (build ${manifest.build.sha.slice(0, 7)}); release.json signed by ${verified.signer.principal}`,
    );

    let release: HostRelease | undefined;
    if (!rollback) {
      bundle = await verifyBundle(github, verified, { scope, tempDir: context.tempDir, log });
      const config = await releaseConfig(verified, inputs.identity, log);
      const file = bundle.file;
      release = {
        id: manifest.id,
        digest: manifest.build.digest,
        manifestBytes: verified.bytes,
        signatureBytes: verified.signature,
        env: config.env,
        openBundle: () => checkedTar(file, { compression: manifest.build.compression }),
      };
      log.info(
        `Verified ${entry.tag}: bundle ${manifest.build.digest}, ${config.secretNames.length} secrets decrypted`,
      );
    }

    if (inputs['dry-run']) {
      connections ??= await connectHosts(inputs.hosts, access, inputs.parallel);
      const plans = await Promise.all(
        connections.map((c) =>
          planHost(c.transport, {
            root,
            release: { id: manifest.id, manifestBytes: verified.bytes },
            keep: inputs.keep,
            log,
          }),
        ),
      );
      for (const plan of plans) {
        log.info(
          `host ${plan.host}: would ${plan.upload === 'skip' ? 'reuse' : plan.upload} ${plan.releaseId}, switch ${plan.current ?? 'nothing'} -> ${plan.releaseId}${plan.prune.length ? `, prune ${plan.prune.join(', ')}` : ''}${plan.problems.length ? `; problems: ${plan.problems.join('; ')}` : ''}`,
        );
      }
      return {
        outputs: {
          'release-id': manifest.id,
          'previous-release-id': common(plans.map((p) => p.current)) ?? '',
          hosts: inputs.hosts.map((h) => h.label).join('\n'),
          'deployment-id': '',
          url: inputs.url ?? '',
          'rolled-back': 'false',
        },
        summary: planSummary({
          app,
          environment,
          releaseId: manifest.id,
          releaseUrl: entry.url,
          manifest,
          manifestDigest: verified.digest,
          signer: verified.signer.principal,
          plans,
        }),
      };
    }

    // GitHub wants writes a second apart: recording the deployment overlaps connecting.
    const [recorded, connected] = await Promise.allSettled([
      inputs.deployment
        ? startDeployment(
            github,
            repository,
            {
              environment,
              sha: manifest.build.sha,
              app,
              releaseId: manifest.id,
              manifestDigest: verified.digest,
              description: `${rollback ? 'Roll back to' : 'Deploy'} ${manifest.id}: ${manifest.changes}`,
              transient:
                isPreviewEnvironment(environment) || context.eventName.startsWith('pull_request'),
              production: environment === 'production',
              rollback,
            },
            runUrl,
          )
        : Promise.resolve(undefined),
      connections ?? connectHosts(inputs.hosts, access, inputs.parallel),
    ]);
    if (connected.status === 'fulfilled') connections = connected.value;
    if (recorded.status === 'rejected') throw recorded.reason;
    const deploymentId = recorded.value;
    const fail = async (error: unknown): Promise<never> => {
      if (deploymentId !== undefined) {
        await finishDeployment(
          github,
          repository,
          deploymentId,
          'failure',
          { description: formatError(error), logUrl: runUrl },
          log,
        );
      }
      throw error;
    };
    if (connected.status === 'rejected') return await fail(connected.reason);
    const hostRelease = release;
    const outcomes = await activateFleet(connected.value, {
      parallel: inputs.parallel,
      onFailure: inputs['on-failure'],
      log,
      activate: (c): Promise<HostResult> =>
        hostRelease
          ? deployToHost(c.transport, {
              ...activation,
              release: hostRelease,
              keep: inputs.keep,
              sharedPaths,
            })
          : rollbackHost(c.transport, {
              ...activation,
              to: manifest.id,
              manifestBytes: verified.bytes,
            }),
      putBack: (c, to) => rollbackHost(c.transport, { ...activation, to }),
      current: async (c) => (await readHostState(c.transport, { root, log })).current,
    }).catch(fail);

    const failed = outcomes.filter(outcomeFailed);
    const currents = outcomes.map((o) =>
      o.skipped ? o.current : (o.putBack?.currentId ?? o.result?.currentId),
    );
    const previousIds = outcomes.map((o) => (o.skipped ? o.current : o.result?.previousId));
    const rolledBack = outcomes.some(
      (o) => o.putBack !== undefined || o.result?.result === 'failed-rolled-back',
    );
    const now = common(currents);
    const before = common(previousIds);
    const hosts = `${outcomes.length} host${outcomes.length === 1 ? '' : 's'}`;
    const where =
      now !== undefined
        ? now === manifest.id
          ? `the hosts run ${now}`
          : `the hosts are back on ${now}`
        : new Set(currents).size > 1
          ? `the hosts are split: ${outcomes.map((o, i) => `${o.host} on ${currents[i] ?? 'nothing'}`).join(', ')}`
          : 'nothing is current';
    const headline =
      failed.length === 0
        ? rollback
          ? `rolled back on ${hosts}`
          : `deployed to ${hosts}`
        : `failed, ${where}`;
    if (deploymentId !== undefined) {
      await finishDeployment(
        github,
        repository,
        deploymentId,
        failed.length === 0 ? 'success' : 'failure',
        {
          description: `${manifest.id}: ${headline}`,
          logUrl: runUrl,
          ...(inputs.url ? { environmentUrl: inputs.url } : {}),
        },
        log,
      );
    }
    const result: StageResult<RunOutputs> = {
      outputs: {
        'release-id': now ?? '',
        'previous-release-id': before ?? '',
        hosts: inputs.hosts.map((h) => h.label).join('\n'),
        'deployment-id': deploymentId !== undefined ? String(deploymentId) : '',
        url: inputs.url ?? '',
        'rolled-back': String(rolledBack),
      },
      summary: runSummary({
        app,
        environment,
        releaseId: manifest.id,
        releaseUrl: entry.url,
        manifest,
        manifestDigest: verified.digest,
        signer: verified.signer.principal,
        rollback,
        headline,
        outcomes,
        rollbackTo: failed.length === 0 && before !== manifest.id ? before : undefined,
        deploymentId,
        url: inputs.url,
      }),
    };
    if (failed.length > 0) {
      throw new RunFailed(failureMessage(outcomes, failed, where), result);
    }
    return result;
  } finally {
    if (connections) await closeAll(connections);
    if (bundle) await rm(bundle.directory, { recursive: true, force: true });
  }
}

/** One line for the step: the host that failed and why; for a fleet, where things stand. */
function failureMessage(
  outcomes: readonly HostOutcome[],
  failed: readonly HostOutcome[],
  where: string,
): string {
  const reasons = failed.map(
    (o) => o.error ?? o.result?.failure?.message ?? o.putBack?.failure?.message ?? o.putBackError,
  );
  if (outcomes.length === 1) return reasons[0] ?? where;
  return `${failed.length} of ${outcomes.length} hosts failed, ${where}: ${reasons.join('; ')}`;
}

async function destroy(
  inputs: RunInputs,
  options: {
    app: string;
    environment: string;
    root: string;
    lock: LockOptions;
    access: HostAccess;
    github: GitHub;
    scope: LedgerScope;
    runUrl: string;
    log: Log;
  },
): Promise<StageResult<RunOutputs>> {
  const { github, scope, log } = options;
  const repository = { owner: scope.owner, repo: scope.repo };
  const connections = await connectHosts(inputs.hosts, options.access, inputs.parallel);
  let hosts: DestroyedHost[];
  try {
    hosts = await destroyOnHosts(connections, {
      root: options.root,
      lock: options.lock,
      log,
      stopCommand: inputs['stop-command'],
      parallel: inputs.parallel,
    });
  } finally {
    await closeAll(connections);
  }
  for (const host of hosts) {
    if (host.error === undefined) {
      log.info(
        `host ${host.host}: ${host.removed ? `removed ${options.root}` : 'nothing to remove'}`,
      );
    }
  }
  const failed = hosts.filter((host) => host.error !== undefined);
  // GitHub's record follows the hosts: left as it is while any host still runs the environment.
  const deactivated =
    inputs.deployment && failed.length === 0
      ? await deactivateDeployments(github, repository, options.environment, options.runUrl)
      : undefined;
  const deletedReleases =
    inputs['delete-releases'] && failed.length === 0
      ? await deleteReleases(github, scope, log)
      : undefined;
  const result: StageResult<RunOutputs> = {
    outputs: {
      'release-id': '',
      'previous-release-id': '',
      hosts: inputs.hosts.map((h) => h.label).join('\n'),
      'deployment-id': '',
      url: '',
      'rolled-back': 'false',
    },
    summary: destroySummary({
      app: options.app,
      environment: options.environment,
      root: options.root,
      hosts,
      deactivated,
      deletedReleases,
    }),
  };
  if (failed.length > 0) {
    const reasons = failed.map((host) => host.error).join('; ');
    throw new RunFailed(
      failed.length === 1 && hosts.length === 1
        ? reasons
        : `${failed.length} of ${hosts.length} hosts were not torn down: ${reasons}`,
      result,
    );
  }
  return result;
}
