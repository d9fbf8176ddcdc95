import type { Command } from 'commander';
import { environmentArgument } from '../arguments.js';
import { ConfigurationError, readHostState, type LockState } from '../core.js';
import { hostCommandOptions, startHostRun, type HostRunFlags } from '../host-run.js';
import { hostStatus, statusReport, type HostStatus, type StatusReport } from '../host-status.js';
import { eachHost } from '../hosts.js';
import type { Io } from '../io.js';
import { printJson, printNote, printTable, type Cell, type Output } from '../output.js';
import { wholeNumber } from '../usage.js';

/** A lock in a few words: who, since when, and whether its heartbeat still comes. */
export function lockText(lock: LockState): string {
  const age = lock.heartbeatAgeSeconds;
  const beat = age === undefined ? 'no heartbeat' : `heartbeat ${age} s ago`;
  const since = lock.started ? ` since ${lock.started}` : '';
  return `${lock.stale ? 'dead' : 'held'}: ${lock.holder}${since}, ${beat}`;
}

function lockCell(lock: LockState | null): Cell {
  if (!lock) return 'none';
  return { text: lockText(lock), style: lock.stale ? 'red' : 'yellow' };
}

function releasesCell(status: HostStatus): string {
  return status.releases
    .map((release) => (release.status === 'failed' ? `${release.id} (failed)` : release.id))
    .join(' ');
}

function hostRow(status: HostStatus, report: StatusReport): Cell[] {
  if (!status.reached) {
    return [status.host, { text: `not reached: ${status.problem ?? ''}`, style: 'red' }];
  }
  if (!status.exists) {
    return [status.host, { text: `no deploy root at ${report.path}`, style: 'yellow' }];
  }
  const current: Cell =
    status.current === null
      ? { text: 'nothing', style: 'yellow' }
      : { text: status.current, style: report.split ? 'yellow' : 'green' };
  return [
    { text: status.host, style: 'bold' },
    current,
    status.previous ?? 'none',
    releasesCell(status),
    lockCell(status.lock),
  ];
}

/** One line on what the fleet runs: the same release everywhere, or which host runs what. */
export function fleetLine(report: StatusReport): string {
  const reached = report.hosts.filter((host) => host.reached);
  if (reached.length === 0) return 'No host was reached.';
  const missing = reached.length < report.hosts.length ? ' (of the hosts reached)' : '';
  if (report.split) {
    const groups = new Map<string, string[]>();
    for (const host of reached) {
      const runs = host.current ?? 'nothing';
      groups.set(runs, [...(groups.get(runs) ?? []), host.host]);
    }
    const each = [...groups].map(([runs, hosts]) => `${runs} on ${hosts.join(', ')}`);
    return `The fleet is split${missing}: ${each.join('; ')}.`;
  }
  const runs = reached[0]?.current;
  const all = reached.length === 1 ? 'The host runs' : `All ${reached.length} hosts run`;
  return runs ? `${all} ${runs}${missing}.` : `Nothing is current${missing}.`;
}

function printStatus(output: Output, report: StatusReport): void {
  printTable(
    output,
    ['HOST', 'CURRENT', 'PREVIOUS', 'RELEASES', 'LOCK'],
    report.hosts.map((status) => hostRow(status, report)),
  );
  printNote(output, fleetLine(report));
  const events = report.hosts.flatMap((status) =>
    status.events.map((event): Cell[] => [
      status.host,
      event.time,
      { text: event.event, style: event.event === 'failed' ? 'red' : 'green' },
      event.release,
      event.from ?? '',
      event.by ?? '',
    ]),
  );
  if (!output.table || events.length === 0) return;
  output.write('\n');
  printTable(output, ['HOST', 'TIME', 'EVENT', 'RELEASE', 'FROM', 'BY'], events);
}

/** A host that could not be read fails the command, after the others were shown. */
function unreached(report: StatusReport): ConfigurationError | undefined {
  const down = report.hosts.filter((host) => !host.reached);
  if (down.length === 0) return undefined;
  if (down.length === 1 && report.hosts.length === 1) {
    return new ConfigurationError({ problem: down[0]!.problem ?? 'not reached' });
  }
  return new ConfigurationError({
    problem: `${down.length} of ${report.hosts.length} hosts not reached: ${down.map((host) => host.problem).join('; ')}`,
  });
}

interface StatusFlags extends HostRunFlags {
  events: number;
}

export function statusCommand(program: Command, io: Io): void {
  const command = program
    .command('status')
    .description(
      'show each host: current and previous release, releases on disk, the deploy lock, last events',
    )
    .addArgument(environmentArgument())
    .option('--events <n>', 'how many history events to show per host', wholeNumber(0, 1000), 5);
  hostCommandOptions(command).addHelpText(
    'after',
    [
      '\nIt reads the hosts over SSH only: GitHub is not needed.',
      '\nExamples:',
      '  brr status production --hosts deploy@web-1.example.com,deploy@web-2.example.com',
      '  brr status staging --hosts-file hosts.txt --json\n',
    ].join('\n'),
  );
  command.action(async (environment: string, flags: StatusFlags) => {
    const run = await startHostRun(flags, environment, io);
    const { root } = run.access;
    const readings = await eachHost(run.access, io, (connection) =>
      readHostState(connection.transport, { root, log: run.log }),
    );
    const report = statusReport(
      { app: run.scope.app, environment, path: root },
      readings.map((reading) => hostStatus(reading, flags.events)),
    );
    if (run.output.json) printJson(run.output, report);
    else printStatus(run.output, report);
    const failure = unreached(report);
    if (failure) throw failure;
  });
}
