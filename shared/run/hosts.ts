import { ConfigurationError, formatError } from '../errors.js';
import type { HostResult } from '../host/activate.js';
import { localTransport } from '../host/local.js';
import { connectSsh } from '../host/ssh.js';
import type { Transport } from '../host/transport.js';
import type { Log } from '../log.js';
import type { Host } from '../names.js';

export interface HostAccess {
  /** The `ssh-key` input. */
  sshKey: string | undefined;
  /** The `known-hosts` input. */
  knownHosts: string | undefined;
  /** The environment of commands on the `local` host: never the action's own, which holds its inputs. */
  localEnv: Record<string, string>;
  connectTimeoutSeconds?: number;
}

/** Refuses missing SSH credentials up front, before anything is downloaded or contacted. */
export function checkHostAccess(hosts: readonly Host[], access: HostAccess): void {
  const ssh = hosts.filter((host) => host.kind === 'ssh');
  if (ssh.length === 0) return;
  const names = ssh.map((host) => host.label).join(', ');
  if (access.knownHosts === undefined) {
    throw new ConfigurationError(
      `Input 'known-hosts' is required for SSH hosts (${names}): give their known_hosts lines (ssh-keyscan, then check the fingerprints); host keys are always checked`,
    );
  }
  if (access.sshKey === undefined) {
    throw new ConfigurationError(
      `Input 'ssh-key' is required for SSH hosts (${names}): the private key the deploy user logs in with`,
    );
  }
}

export interface Connection {
  host: Host;
  transport: Transport;
}

/**
 * Connects to every host, at most `parallel` at once. All or nothing: when one cannot be reached,
 * the others are closed and nothing is deployed anywhere. The error names each failing host.
 */
export async function connectHosts(
  hosts: readonly Host[],
  access: HostAccess,
  parallel: number,
): Promise<Connection[]> {
  const outcomes = await mapLimit(hosts, parallel, async (host) => {
    if (host.kind === 'local') {
      return { host, transport: localTransport({ env: access.localEnv }) };
    }
    const transport = await connectSsh({
      target: host,
      privateKey: access.sshKey ?? '',
      knownHosts: access.knownHosts ?? '',
      connectTimeoutSeconds: access.connectTimeoutSeconds ?? 20,
    });
    return { host, transport };
  });
  const failed = outcomes.filter(
    (outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected',
  );
  const connected = outcomes.flatMap((outcome) =>
    outcome.status === 'fulfilled' ? [outcome.value] : [],
  );
  if (failed.length > 0) {
    await closeAll(connected);
    const reasons = failed.map((outcome) => describe(outcome.reason));
    const first: unknown = failed[0]?.reason;
    if (reasons.length === 1 && first instanceof Error) throw first;
    throw new ConfigurationError(
      `${reasons.length} of ${hosts.length} hosts cannot be used, nothing was deployed: ${reasons.join('; ')}`,
    );
  }
  return connected;
}

export async function closeAll(connections: readonly Connection[]): Promise<void> {
  await Promise.all(connections.map((c) => c.transport.close().catch(() => undefined)));
}

function describe(error: unknown): string {
  return error instanceof ConfigurationError ? error.message : formatError(error);
}

/** `fn` over `items`, at most `limit` running at once; every outcome, in the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  shouldStart: () => boolean = () => true,
): Promise<PromiseSettledResult<R>[]> {
  const outcomes: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length && shouldStart()) {
      const index = next++;
      try {
        outcomes[index] = { status: 'fulfilled', value: await fn(items[index]!, index) };
      } catch (reason) {
        outcomes[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return outcomes;
}

/** What happened on one host in this run. */
export interface HostOutcome {
  host: string;
  /** Not reached: an earlier host failed first. */
  skipped: boolean;
  /** For a host not reached: what it runs, as read afterwards. */
  current?: string;
  result?: HostResult;
  /** Why the host failed before switching anything (lock held, disk full, …), one line. */
  error?: string;
  /** After another host failed: this host put back on what it ran before. */
  putBack?: HostResult;
  putBackError?: string;
}

export function outcomeFailed(outcome: HostOutcome): boolean {
  return (
    outcome.error !== undefined ||
    outcome.result?.failure !== undefined ||
    outcome.putBack?.failure !== undefined ||
    outcome.putBackError !== undefined
  );
}

export interface FleetOptions {
  parallel: number;
  onFailure: 'rollback' | 'stop';
  /** Deploys (or rolls back) one host; a failure is a thrown error or a result with `failure`. */
  activate: (connection: Connection) => Promise<HostResult>;
  /** Puts a host switched in this run back on `to`, when another host failed. */
  putBack: (connection: Connection, to: string) => Promise<HostResult>;
  /** What a host not reached runs: for the report. */
  current: (connection: Connection) => Promise<string | undefined>;
  log: Log;
}

/**
 * Rolls a release across hosts, at most `parallel` at once. After the first failure no new host
 * is started; with `on-failure: rollback`, every host this run switched goes back to the release
 * it ran before, so the fleet does not stay split across two releases.
 */
export async function activateFleet(
  connections: readonly Connection[],
  options: FleetOptions,
): Promise<HostOutcome[]> {
  let failed = false;
  const settled = await mapLimit(
    connections,
    options.parallel,
    async (connection) => {
      const outcome: HostOutcome = { host: connection.host.label, skipped: false };
      try {
        outcome.result = await options.activate(connection);
      } catch (error) {
        outcome.error = describe(error);
      }
      if (outcomeFailed(outcome)) failed = true;
      return outcome;
    },
    () => !failed,
  );
  const outcomes = connections.map((connection, index): HostOutcome =>
    settled[index]?.status === 'fulfilled'
      ? settled[index].value
      : { host: connection.host.label, skipped: true },
  );
  await mapLimit(
    outcomes.flatMap((outcome, index) => (outcome.skipped ? [{ outcome, index }] : [])),
    options.parallel,
    async ({ outcome, index }) => {
      outcome.current = await options.current(connections[index]!).catch(() => undefined);
    },
  );
  if (!failed || options.onFailure !== 'rollback') return outcomes;

  const switched = connections.flatMap((connection, index) => {
    const result = outcomes[index]?.result;
    const switchedHere =
      result !== undefined &&
      result.failure === undefined &&
      result.previousId !== undefined &&
      result.previousId !== result.releaseId;
    return switchedHere ? [{ connection, outcome: outcomes[index]!, to: result.previousId! }] : [];
  });
  if (switched.length > 0) {
    options.log.warning(
      `Putting ${switched.map((s) => `${s.outcome.host} back on ${s.to}`).join(', ')}`,
    );
  }
  await mapLimit(switched, options.parallel, async ({ connection, outcome, to }) => {
    try {
      outcome.putBack = await options.putBack(connection, to);
    } catch (error) {
      outcome.putBackError = describe(error);
    }
  });
  return outcomes;
}
