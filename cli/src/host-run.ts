import { hostOptions, resolveHostAccess, type HostAccess, type HostFlags } from './host-access.js';
import type { Io } from './io.js';
import { stderrLog } from './io.js';
import { outputOf, type Output } from './output.js';
import { resolveScope, scopeOptions, type Scope, type ScopeFlags } from './settings.js';
import { checked } from './usage.js';
import type { Command } from 'commander';
import type { Log } from './core.js';

/** What a command that goes to the hosts starts from, every option checked. */
export interface HostRun {
  io: Io;
  scope: Scope;
  environment: string;
  access: HostAccess;
  output: Output;
  log: Log;
}

export type HostRunFlags = ScopeFlags & HostFlags;

/** `--repo`, `--app`, `--json` and the host options: what `status` and `unlock` take. */
export function hostCommandOptions(command: Command): Command {
  return hostOptions(scopeOptions(command));
}

/** Checks the options of a host command; nothing is contacted yet. */
export async function startHostRun(
  flags: HostRunFlags,
  environment: string,
  io: Io,
): Promise<HostRun> {
  return checked(async () => {
    const scope = await resolveScope(flags, io);
    const access = await resolveHostAccess(flags, { app: scope.app, environment }, io);
    return { io, scope, environment, access, output: outputOf(io, scope.json), log: stderrLog(io) };
  });
}
