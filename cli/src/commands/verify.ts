import type { Command } from 'commander';
import { environmentArgument, releaseArgument } from '../arguments.js';
import { verifyLedger, verifyRelease, type Outcome, type ReleaseCheck } from '../chain.js';
import { ConfigurationError } from '../core.js';
import type { Io } from '../io.js';
import { ledgerName, openLedger } from '../ledger.js';
import { printJson, printNote, printTable, type Cell, type Output } from '../output.js';
import { commonOptions, type CommonFlags } from '../settings.js';
import { checked, startRun, UsageError } from '../usage.js';

export interface VerifyReport {
  repository: string;
  app: string;
  environment: string;
  ok: boolean;
  /** The first release, oldest first, that failed a check, and why. */
  firstBad: { id: string; problem: string } | null;
  /** Oldest first. */
  releases: ReleaseCheck[];
  /** Numbered tags without a published release (being made, or given up): outside the chain. */
  unpublished: string[];
  bundlesChecked: boolean;
}

const STYLE = { ok: 'green', failed: 'red', 'not checked': 'dim' } as const;

function outcome(value: Outcome, detail?: string | null): Cell {
  const text = value === 'ok' && detail ? `ok (${detail})` : value;
  return { text, style: STYLE[value] };
}

function printReport(output: Output, report: VerifyReport): void {
  printTable(
    output,
    ['ID', 'SIGNATURE', 'CHAIN', 'BUNDLE'],
    report.releases.map((check) => [
      { text: check.id, style: 'bold' },
      outcome(check.signature, check.signer),
      outcome(check.chain, check.previous ? `after ${check.previous.id}` : 'first'),
      outcome(check.bundle),
    ]),
  );
  if (report.unpublished.length > 0) {
    printNote(output, `No published release (outside the chain): ${report.unpublished.join(', ')}`);
  }
  if (report.ok) printNote(output, `${report.releases.length} checked, all good.`);
}

interface VerifyFlags extends CommonFlags {
  allowedSigners: string;
  all?: boolean;
  bundles?: boolean;
}

export function verifyCommand(program: Command, io: Io): void {
  const command = program
    .command('verify')
    .description(
      "check releases: signatures against allowed_signers, the chain's links, and bundle digests",
    )
    .addArgument(environmentArgument())
    .addArgument(releaseArgument('id', 'the release to check (default: latest)', false))
    .option('--all', 'check every release of the ledger and every link, oldest first')
    .option('--bundles', 'also download each bundle and check it against its release.json');
  commonOptions(command, 'required').addHelpText(
    'after',
    [
      '\nIt exits 1 and names the first bad link when a check fails.',
      '\nExamples:',
      '  brr verify production --allowed-signers allowed_signers',
      '  brr verify production v12 --allowed-signers allowed_signers --bundles',
      '  brr verify production --all --allowed-signers allowed_signers --json\n',
    ].join('\n'),
  );
  command.action(async (environment: string, id: string | undefined, flags: VerifyFlags) => {
    await checked(() => {
      if (flags.all && id !== undefined) {
        throw new UsageError({ problem: `give a release ID (${id}) or --all, not both` });
      }
    });
    const run = await startRun(flags, io);
    const ledger = openLedger(run.settings, environment, run.log);
    const options = {
      allowedSigners: run.settings.allowedSigners ?? [],
      bundles: flags.bundles === true,
      tempDir: io.tempDir,
      log: run.log,
    };
    const { checks, unpublished } = flags.all
      ? await verifyLedger(ledger, options)
      : { checks: [await verifyRelease(ledger, id ?? 'latest', options)], unpublished: [] };
    const bad = checks.find((check) => check.problem !== null);
    const report: VerifyReport = {
      repository: `${ledger.scope.owner}/${ledger.scope.repo}`,
      app: ledger.scope.app,
      environment,
      ok: bad === undefined,
      firstBad: bad ? { id: bad.id, problem: bad.problem ?? '' } : null,
      releases: checks,
      unpublished,
      bundlesChecked: options.bundles,
    };
    if (run.output.json) printJson(run.output, report);
    else printReport(run.output, report);
    if (bad) {
      throw new ConfigurationError({
        subject: `ledger ${ledgerName(ledger)}`,
        problem: `the first bad link is ${bad.id}: ${bad.problem}`,
      });
    }
  });
}
