import type { Command } from 'commander';
import { environmentArgument } from '../arguments.js';
import { ConfigurationError, unlockHost, type LockState, type UnlockResult } from '../core.js';
import { hostCommandOptions, startHostRun, type HostRunFlags } from '../host-run.js';
import { eachHost, type Reached } from '../hosts.js';
import type { Io } from '../io.js';
import { printJson, printTable, type Cell, type Output } from '../output.js';
import { lockText } from './status.js';

/** One host in `unlock`'s report. */
export interface HostUnlock {
  host: string;
  /** none: no lock; cleared; live: a deploy holds it and keeps it fresh, left alone; changed:
   * another deploy took it while brr looked, left alone; not-reached. */
  outcome: UnlockResult['outcome'] | 'not-reached';
  lock: LockState | null;
  problem: string | null;
}

function hostUnlock(reading: Reached<UnlockResult>): HostUnlock {
  const host = reading.host.label;
  if (!reading.value) {
    return { host, outcome: 'not-reached', lock: null, problem: reading.problem };
  }
  const { outcome, lock } = reading.value;
  const held = lock ? `deploy lock ${lockText(lock)}` : '';
  const problem =
    outcome === 'live'
      ? `${held}: its deploy is alive, so the lock stays (--force clears it all the same)`
      : outcome === 'changed'
        ? 'the deploy lock changed hands while brr looked at it: another deploy holds it now'
        : null;
  return { host, outcome, lock: lock ?? null, problem };
}

function printUnlocks(output: Output, hosts: readonly HostUnlock[]): void {
  const words: Record<HostUnlock['outcome'], Cell> = {
    none: 'no lock',
    cleared: { text: 'cleared', style: 'green' },
    live: { text: 'left alone: a deploy holds it', style: 'red' },
    changed: { text: 'left alone: it changed hands', style: 'red' },
    'not-reached': { text: 'not reached', style: 'red' },
  };
  printTable(
    output,
    ['HOST', 'LOCK', 'OUTCOME'],
    hosts.map((host) => [
      { text: host.host, style: 'bold' },
      host.lock ? lockText(host.lock) : host.outcome === 'not-reached' ? (host.problem ?? '') : '',
      words[host.outcome],
    ]),
  );
}

interface UnlockFlags extends HostRunFlags {
  force?: boolean;
}

export function unlockCommand(program: Command, io: Io): void {
  const command = program
    .command('unlock')
    .description("clear the hosts' dead deploy lock: one whose deploy was killed")
    .addArgument(environmentArgument())
    .option('--force', 'clear a live lock too (its deploy must be gone: brr cannot tell)');
  hostCommandOptions(command).addHelpText(
    'after',
    [
      '\nA lock is dead when its heartbeat stopped; a live one stays unless --force, and the',
      'error line says who holds it.',
      '\nExamples:',
      '  brr unlock production --hosts deploy@web-1.example.com',
      '  brr unlock production --hosts-file hosts.txt --force --json\n',
    ].join('\n'),
  );
  command.action(async (environment: string, flags: UnlockFlags) => {
    const run = await startHostRun(flags, environment, io);
    const { root } = run.access;
    const readings = await eachHost(run.access, io, (connection) =>
      unlockHost(connection.transport, { root, log: run.log, force: flags.force === true }),
    );
    const hosts = readings.map(hostUnlock);
    if (run.output.json) {
      printJson(run.output, { app: run.scope.app, environment, path: root, hosts });
    } else {
      printUnlocks(run.output, hosts);
    }
    const refused = hosts.filter((host) => host.problem !== null);
    if (refused.length > 0) {
      throw new ConfigurationError({
        problem: refused.map((host) => `host ${host.host}: ${host.problem}`).join('; '),
      });
    }
  });
}
