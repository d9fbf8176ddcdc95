import type { Command } from 'commander';
import { environmentArgument, releaseArgument } from '../arguments.js';
import type { Manifest } from '../core.js';
import type { Io } from '../io.js';
import { openLedger, readManifest, requireRelease, type ReadManifest } from '../ledger.js';
import { printFacts, printJson, printNote, printTable, type Cell, type Output } from '../output.js';
import { commonOptions, type CommonFlags } from '../settings.js';
import { startRun } from '../usage.js';

/** What `show` tells of a release: its facts, config var values, and secret names only. */
export interface ReleaseFacts {
  repository: string;
  app: string;
  environment: string;
  id: string;
  tag: string;
  url: string;
  created: string;
  actor: string;
  run: Manifest['run'];
  change: string;
  build: Manifest['build'];
  previous: Manifest['previous'];
  /** sha256 of release.json. */
  manifest: string;
  signer: string | null;
  vars: Record<string, string>;
  /** Names only: the values are encrypted, and brr never decrypts them. */
  secrets: string[];
}

export function releaseFacts(repository: string, read: ReadManifest): ReleaseFacts {
  const { manifest, entry } = read;
  return {
    repository,
    app: manifest.app,
    environment: manifest.environment,
    id: manifest.id,
    tag: entry.tag,
    url: entry.url,
    created: manifest.created,
    actor: manifest.actor,
    run: manifest.run,
    change: manifest.changes,
    build: manifest.build,
    previous: manifest.previous,
    manifest: read.digest,
    signer: read.signer ?? null,
    vars: manifest.config.vars,
    secrets: manifest.config.secrets?.names ?? [],
  };
}

function printRelease(output: Output, facts: ReleaseFacts): void {
  const { build } = facts;
  const signed: Cell =
    facts.signer !== null
      ? { text: `${facts.signer} (checked against --allowed-signers)`, style: 'green' }
      : { text: 'not checked (pass --allowed-signers)', style: 'yellow' };
  printFacts(output, [
    ['Release', { text: facts.tag, style: 'bold' }],
    ['URL', facts.url],
    ['Created', `${facts.created} by ${facts.actor}`],
    ['Run', facts.run.url],
    ['Change', facts.change],
    ['Build', `${build.sha} (${build.size} bytes, ${build.compression})`],
    ['Bundle', `${build.artifact.name} ${build.digest}`],
    ['Previous', facts.previous ? `${facts.previous.id} ${facts.previous.digest}` : 'none'],
    ['Manifest', facts.manifest],
    ['Signed by', signed],
    ['Secrets', facts.secrets.length > 0 ? facts.secrets.join(', ') : 'none'],
  ]);
  const vars = Object.entries(facts.vars).sort(([a], [b]) => a.localeCompare(b));
  if (!output.table) {
    // One `label<TAB>value` line each, like the facts above: `var.PORT<TAB>8080`.
    printFacts(
      output,
      vars.map(([name, value]) => [`var.${name}`, value]),
    );
    return;
  }
  output.write('\n');
  if (vars.length === 0) printNote(output, 'No config vars.');
  else printTable(output, ['VAR', 'VALUE'], vars);
}

export function showCommand(program: Command, io: Io): void {
  const command = program
    .command('show')
    .description('show one release: build, config vars, secret names (never values), chain link')
    .addArgument(environmentArgument())
    .addArgument(releaseArgument('id', 'the release, such as v12, or latest'));
  commonOptions(command, 'optional').addHelpText(
    'after',
    '\nExamples:\n  brr show production v12\n  brr show production latest --allowed-signers allowed_signers --json\n',
  );
  command.action(async (environment: string, id: string, flags: CommonFlags) => {
    const run = await startRun(flags, io);
    const ledger = openLedger(run.settings, environment, run.log);
    const entry = await requireRelease(ledger, id);
    const read = await readManifest(ledger, entry, run.settings.allowedSigners);
    const facts = releaseFacts(`${ledger.scope.owner}/${ledger.scope.repo}`, read);
    if (run.output.json) printJson(run.output, facts);
    else printRelease(run.output, facts);
  });
}
