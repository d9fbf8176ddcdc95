import type { Command } from 'commander';
import {
  findRelease,
  mapLimit,
  type AllowedSigner,
  type LedgerTag,
  type Manifest,
} from '../core.js';
import type { Io } from '../io.js';
import { openLedger, readManifest, requireIndex, type Ledger } from '../ledger.js';
import { printJson, printNote, printTable, type Cell, type Output } from '../output.js';
import { environmentArgument } from '../arguments.js';
import { commonOptions, type CommonFlags } from '../settings.js';
import { startRun, wholeNumber } from '../usage.js';

export type ReleaseRow =
  | { id: string; tag: string; published: false }
  | {
      id: string;
      tag: string;
      published: true;
      url: string;
      created: string;
      actor: string;
      change: string;
      build: Pick<Manifest['build'], 'sha' | 'digest' | 'size'>;
      /** sha256 of release.json. */
      manifest: string;
      previous: Manifest['previous'];
      /** The principal that signed it; null when signatures were not checked. */
      signer: string | null;
    };

/** Requests at once: a page of releases reads in a few round trips, well inside rate limits. */
const READS_AT_ONCE = 8;

async function row(
  ledger: Ledger,
  tag: LedgerTag,
  allowedSigners: readonly AllowedSigner[] | undefined,
): Promise<ReleaseRow> {
  const entry = await findRelease(ledger.github, ledger.scope, tag.id);
  if (!entry) return { id: tag.id, tag: tag.tag, published: false };
  const read = await readManifest(ledger, entry, allowedSigners);
  const { manifest } = read;
  return {
    id: tag.id,
    tag: tag.tag,
    published: true,
    url: entry.url,
    created: manifest.created,
    actor: manifest.actor,
    change: manifest.changes,
    build: { sha: manifest.build.sha, digest: manifest.build.digest, size: manifest.build.size },
    manifest: read.digest,
    previous: manifest.previous,
    signer: read.signer ?? null,
  };
}

/** The newest `limit` releases of the ledger, newest first, each read by its tag. */
export async function listReleases(
  ledger: Ledger,
  limit: number,
  allowedSigners: readonly AllowedSigner[] | undefined,
): Promise<ReleaseRow[]> {
  const newest = (await requireIndex(ledger)).tags.slice(-limit).reverse();
  const outcomes = await mapLimit(newest, READS_AT_ONCE, (tag) => row(ledger, tag, allowedSigners));
  return outcomes.map((outcome) => {
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  });
}

function printRows(output: Output, rows: readonly ReleaseRow[], signed: boolean): void {
  const header = ['ID', 'CHANGE', 'BUILD', 'WHO', 'WHEN', ...(signed ? ['SIGNED BY'] : [])];
  const cells = rows.map((release): Cell[] => {
    if (!release.published) {
      const pending: Cell = {
        text: 'no published release (being made, or given up)',
        style: 'yellow',
      };
      return [release.id, pending, '', '', '', ...(signed ? [''] : [])];
    }
    return [
      { text: release.id, style: 'bold' },
      release.change,
      release.build.sha.slice(0, 7),
      release.actor,
      release.created,
      ...(signed ? [{ text: release.signer ?? '', style: 'green' } as Cell] : []),
    ];
  });
  printTable(output, header, cells);
  if (!signed) printNote(output, 'Signatures not checked: pass --allowed-signers to check them.');
}

export function releasesCommand(program: Command, io: Io): void {
  const command = program
    .command('releases')
    .description("list an environment's releases, newest first: ID, change, build, who, when")
    .addArgument(environmentArgument())
    .option('--limit <n>', 'how many releases to show', wholeNumber(1, 1000), 20);
  commonOptions(command, 'optional').addHelpText(
    'after',
    '\nExamples:\n  brr releases production\n  brr releases staging --limit 5 --json\n',
  );
  command.action(async (environment: string, flags: CommonFlags & { limit: number }) => {
    const run = await startRun(flags, io);
    const ledger = openLedger(run.settings, environment, run.log);
    const signers = run.settings.allowedSigners;
    const rows = await listReleases(ledger, flags.limit, signers);
    if (run.output.json) {
      printJson(run.output, {
        repository: `${ledger.scope.owner}/${ledger.scope.repo}`,
        app: ledger.scope.app,
        environment,
        signaturesChecked: signers !== undefined,
        releases: rows,
      });
    } else {
      printRows(run.output, rows, signers !== undefined);
    }
  });
}
