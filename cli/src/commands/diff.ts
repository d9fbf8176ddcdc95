import type { Command } from 'commander';
import { environmentArgument, releaseArgument } from '../arguments.js';
import { configDiff, type Manifest } from '../core.js';
import type { Io } from '../io.js';
import { openLedger, readManifest, requireRelease, type Ledger } from '../ledger.js';
import { printJson, printNote, printTable, type Cell, type Output } from '../output.js';
import { commonOptions, type CommonFlags } from '../settings.js';
import { startRun, type Run } from '../usage.js';

/** A config key's side of a change: a var shows its value, a secret only that it is one. */
export type ConfigValue = { kind: 'var'; value: string } | { kind: 'secret' };

export interface ConfigChange {
  name: string;
  before: ConfigValue | null;
  after: ConfigValue | null;
}

type BuildField = 'sha' | 'digest' | 'size' | 'compression';
const BUILD_FIELDS: readonly BuildField[] = ['sha', 'digest', 'size', 'compression'];

export interface ReleaseDiff {
  repository: string;
  app: string;
  environment: string;
  from: string;
  to: string;
  build: { changed: BuildField[]; from: Manifest['build']; to: Manifest['build'] };
  config: { added: ConfigChange[]; changed: ConfigChange[]; removed: ConfigChange[] };
  signaturesChecked: boolean;
}

function valueOf(manifest: Manifest, name: string): ConfigValue | null {
  if (Object.hasOwn(manifest.config.vars, name)) {
    return { kind: 'var', value: manifest.config.vars[name] ?? '' };
  }
  return manifest.config.secrets?.names.includes(name) ? { kind: 'secret' } : null;
}

/** What differs from `a` to `b`: the build's facts and the config, secrets by name only. */
export function diffManifests(a: Manifest, b: Manifest): Pick<ReleaseDiff, 'build' | 'config'> {
  const names = configDiff(a, b);
  const change = (name: string): ConfigChange => ({
    name,
    before: valueOf(a, name),
    after: valueOf(b, name),
  });
  return {
    build: {
      changed: BUILD_FIELDS.filter((field) => a.build[field] !== b.build[field]),
      from: a.build,
      to: b.build,
    },
    config: {
      added: names.added.map(change),
      changed: names.changed.map(change),
      removed: names.removed.map(change),
    },
  };
}

function shown(value: ConfigValue | null): string {
  if (value === null) return '';
  return value.kind === 'var' ? value.value : '(secret)';
}

function printDiff(output: Output, diff: ReleaseDiff): void {
  const rows: Cell[][] = diff.build.changed.map((field) => [
    'build',
    field,
    { text: 'changed', style: 'yellow' },
    String(diff.build.from[field]),
    String(diff.build.to[field]),
  ]);
  const styles = { added: 'green', changed: 'yellow', removed: 'red' } as const;
  for (const kind of ['added', 'changed', 'removed'] as const) {
    for (const change of diff.config[kind]) {
      const side = change.after ?? change.before;
      rows.push([
        side?.kind ?? 'var',
        change.name,
        { text: kind, style: styles[kind] },
        shown(change.before),
        shown(change.after),
      ]);
    }
  }
  if (rows.length === 0) {
    printNote(output, `${diff.from} and ${diff.to} have the same build and config.`);
    return;
  }
  printTable(output, ['WHAT', 'NAME', 'CHANGE', diff.from, diff.to], rows);
}

async function manifestOf(ledger: Ledger, id: string, run: Run): Promise<Manifest> {
  const entry = await requireRelease(ledger, id);
  return (await readManifest(ledger, entry, run.settings.allowedSigners)).manifest;
}

export function diffCommand(program: Command, io: Io): void {
  const command = program
    .command('diff')
    .description('compare two releases: build and config (secrets by name only)')
    .addArgument(environmentArgument())
    .addArgument(releaseArgument('from', 'the older release, such as v11'))
    .addArgument(releaseArgument('to', 'the newer release, such as v12, or latest'));
  commonOptions(command, 'optional').addHelpText(
    'after',
    '\nExamples:\n  brr diff production v11 v12\n  brr diff production v11 latest --json\n',
  );
  command.action(async (environment: string, from: string, to: string, flags: CommonFlags) => {
    const run = await startRun(flags, io);
    const ledger = openLedger(run.settings, environment, run.log);
    const [a, b] = await Promise.all([manifestOf(ledger, from, run), manifestOf(ledger, to, run)]);
    const diff: ReleaseDiff = {
      repository: `${ledger.scope.owner}/${ledger.scope.repo}`,
      app: ledger.scope.app,
      environment,
      from: a.id,
      to: b.id,
      ...diffManifests(a, b),
      signaturesChecked: run.settings.allowedSigners !== undefined,
    };
    if (run.output.json) printJson(run.output, diff);
    else printDiff(run.output, diff);
  });
}
