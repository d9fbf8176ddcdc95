import { Option, type Command } from 'commander';
import { environmentArgument, rollbackArgument } from '../arguments.js';
import {
  describeRuns,
  formatError,
  readHostState,
  type Commands,
  type HostOutcome,
  type LockOptions,
} from '../core.js';
import { hostOptions, resolveHostAccess, type HostAccess, type HostFlags } from '../host-access.js';
import { openHosts } from '../hosts.js';
import type { Io } from '../io.js';
import { openLedger } from '../ledger.js';
import { printJson, printNote, printTable, type Cell, type Output } from '../output.js';
import { rollBack, type RollbackDone } from '../rollback/run.js';
import { rollbackTarget } from '../rollback/target.js';
import {
  gitHubUnavailable,
  trustFromHosts,
  trustFromLedger,
  type TrustedRelease,
} from '../rollback/trust.js';
import { commonOptions, type CommonFlags } from '../settings.js';
import { checked, startRun, wholeNumber, type Run } from '../usage.js';

interface RollbackFlags extends CommonFlags, HostFlags {
  restart?: string;
  healthCheck?: string;
  healthTimeout: number;
  parallel: number;
  onFailure: 'rollback' | 'stop';
  lockTimeout: number;
  deployment: boolean;
}

/** One host in `rollback`'s report. */
export interface HostRollback {
  host: string;
  before: string;
  after: string;
  /** rolled-back; failed-rolled-back (it did not come up, the host went back); failed; put-back
   * (another host failed); stopped (before its end: lock held, connection lost); not-started. */
  result: string;
  problem: string | null;
  seconds: number | null;
}

export interface RollbackReport {
  repository: string;
  app: string;
  environment: string;
  path: string;
  release: {
    id: string;
    manifest: string;
    build: { sha: string; digest: string };
    change: string;
    signer: string;
    checkedAgainst: TrustedRelease['checkedAgainst'];
    url: string | null;
  };
  github: 'reachable' | 'unreachable';
  deployment: number | null;
  ok: boolean;
  headline: string;
  split: boolean;
  hosts: HostRollback[];
}

function hostRollback(outcome: HostOutcome): HostRollback {
  const { result } = outcome;
  const kind = !outcome.reached
    ? 'not-started'
    : outcome.putBack || outcome.putBackError
      ? 'put-back'
      : (result?.result ?? 'stopped');
  const problem = outcome.failure ? formatError(outcome.failure) : null;
  return {
    host: outcome.host,
    before: describeRuns(outcome.before),
    after: describeRuns(outcome.after),
    result: kind,
    problem,
    seconds: result
      ? Math.round(((result.seconds ?? 0) + (outcome.putBack?.seconds ?? 0)) * 10) / 10
      : null,
  };
}

function report(run: Run, release: TrustedRelease, done: RollbackDone, path: string) {
  const { repository, app } = run.settings;
  const { manifest } = release;
  return {
    repository: `${repository.owner}/${repository.repo}`,
    app,
    environment: manifest.environment,
    path,
    release: {
      id: release.id,
      manifest: release.digest,
      build: { sha: manifest.build.sha, digest: manifest.build.digest },
      change: manifest.changes,
      signer: release.signer,
      checkedAgainst: release.checkedAgainst,
      url: release.url,
    },
    github: release.checkedAgainst === 'ledger' ? 'reachable' : 'unreachable',
    deployment: done.deploymentId ?? null,
    ok: !done.fleet.failed,
    headline: done.fleet.headline,
    split: done.fleet.split,
    hosts: done.outcomes.map(hostRollback),
  } satisfies RollbackReport;
}

function printReport(output: Output, rollback: RollbackReport): void {
  const style = (host: HostRollback): Cell =>
    host.result === 'rolled-back'
      ? { text: host.result, style: 'green' }
      : { text: host.problem ? `${host.result}: ${host.problem}` : host.result, style: 'red' };
  printTable(
    output,
    ['HOST', 'BEFORE', 'AFTER', 'RESULT', 'SECONDS'],
    rollback.hosts.map((host) => [
      { text: host.host, style: 'bold' },
      host.before,
      host.after,
      style(host),
      host.seconds === null ? '' : String(host.seconds),
    ]),
  );
  const { release } = rollback;
  const where = release.checkedAgainst === 'ledger' ? 'the ledger' : "the hosts' copies";
  const deployment =
    rollback.deployment === null ? '' : `; GitHub Deployment ${rollback.deployment}`;
  printNote(
    output,
    `${rollback.app}/${rollback.environment} ${release.id}: ${rollback.headline}; release.json signed by ${release.signer}, checked against ${where}${deployment}.`,
  );
}

/** The options of a rollback, checked before GitHub or a host is contacted. */
async function startRollback(flags: RollbackFlags, environment: string, io: Io) {
  const run = await startRun(flags, io);
  const access: HostAccess = await checked(() =>
    resolveHostAccess(flags, { app: run.settings.app, environment }, io),
  );
  const lock: LockOptions = { holder: `brr ${io.operator}`, waitSeconds: flags.lockTimeout };
  const commands: Commands = {
    ...(flags.restart !== undefined ? { restart: flags.restart } : {}),
    ...(flags.healthCheck !== undefined ? { healthCheck: flags.healthCheck } : {}),
    healthTimeoutSeconds: flags.healthTimeout,
  };
  if (flags.restart === undefined) {
    run.log.warning('no --restart: current is switched back, but nothing restarts the app');
  }
  return { run, access, lock, commands };
}

async function rollbackAction(
  environment: string,
  selector: string,
  flags: RollbackFlags,
  io: Io,
): Promise<void> {
  const { run, access, lock, commands } = await startRollback(flags, environment, io);
  const { settings, log } = run;
  const ledger = openLedger(settings, environment, log);
  const down = await gitHubUnavailable(ledger);
  const fleet = openHosts(access, io, flags.parallel);
  try {
    const { root } = access;
    const connections = await fleet.connections();
    const states = await Promise.all(
      connections.map((c) => readHostState(c.transport, { root, log })),
    );
    const scope = { app: settings.app, environment };
    const id = rollbackTarget(states, selector, scope);
    const signers = { allowedSigners: settings.allowedSigners ?? [] };
    if (down !== undefined) {
      log.warning(
        `GitHub (${settings.apiUrl}) is unreachable (${down}): trusting ${id} by the signed release.json on the hosts; no GitHub Deployment is recorded`,
      );
    }
    const release =
      down !== undefined
        ? trustFromHosts(states, id, { ...scope, ...signers })
        : await trustFromLedger(ledger, id, { states, ...signers });
    const done = await rollBack({
      release,
      fleet,
      root,
      lock,
      commands,
      parallel: flags.parallel,
      onFailure: flags.onFailure,
      deployment:
        down === undefined && flags.deployment
          ? { ledger, token: settings.token, operator: io.operator }
          : undefined,
      log,
    });
    const result = report(run, release, done, root);
    if (run.output.json) printJson(run.output, result);
    else printReport(run.output, result);
    if (done.fleet.failure) throw done.fleet.failure;
  } finally {
    await fleet.close();
  }
}

export function rollbackCommand(program: Command, io: Io): void {
  const command = program
    .command('rollback')
    .description(
      'switch the hosts back to a release already on them, over SSH: works while GitHub Actions is down',
    )
    .addArgument(environmentArgument())
    .addArgument(rollbackArgument())
    .option('--restart <command>', 'run in the release after the switch, its .env exported')
    .option('--health-check <command>', 'retried until it exits 0 or --health-timeout passes')
    .option('--health-timeout <s>', 'seconds the health check has', wholeNumber(1, 3600), 60)
    .option('--parallel <n>', 'hosts switched at once', wholeNumber(1, 256), 1)
    .addOption(
      new Option('--on-failure <what>', 'when a host fails: put the switched hosts back, or stop')
        .choices(['rollback', 'stop'])
        .default('rollback'),
    )
    .option(
      '--lock-timeout <s>',
      "seconds to wait for a host's deploy lock",
      wholeNumber(0, 3600),
      0,
    )
    .option('--no-deployment', 'record no GitHub Deployment');
  hostOptions(commonOptions(command, 'required')).addHelpText(
    'after',
    [
      '\nWith GitHub reachable, the release.json of the release is checked against the ledger and',
      'a GitHub Deployment is recorded; unreachable, the signed copies on the hosts are checked.',
      '\nExamples:',
      '  brr rollback production --hosts deploy@web-1.example.com --allowed-signers allowed_signers \\',
      "    --restart 'sudo systemctl restart shop' --health-check 'curl -fsS http://127.0.0.1:8080/health'",
      '  brr rollback production v11 --hosts-file hosts.txt --allowed-signers allowed_signers --json\n',
    ].join('\n'),
  );
  command.action((environment: string, selector: string, flags: RollbackFlags) =>
    rollbackAction(environment, selector, flags, io),
  );
}
