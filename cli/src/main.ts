import { Command, CommanderError } from 'commander';
import { diffCommand } from './commands/diff.js';
import { releasesCommand } from './commands/releases.js';
import { rollbackCommand } from './commands/rollback.js';
import { showCommand } from './commands/show.js';
import { statusCommand } from './commands/status.js';
import { unlockCommand } from './commands/unlock.js';
import { verifyCommand } from './commands/verify.js';
import { foldedTail, formatError } from './core.js';
import type { Io } from './io.js';
import { UsageError } from './usage.js';

/** How brr ends: 0 done, 1 failed, 2 called wrongly (an option, an argument, no token). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

function program(io: Io): Command {
  const brr = new Command('brr')
    .description(
      "build-release-run's command line for the person on call: the ledger of releases, read and verified; the hosts' state, rollback and unlock over SSH",
    )
    .addHelpText(
      'after',
      [
        '\nExamples:',
        '  brr releases production',
        '  brr show production latest',
        '  brr verify production --all --allowed-signers allowed_signers',
        '  brr status production --hosts deploy@web-1.example.com',
        '  brr rollback production previous --hosts deploy@web-1.example.com --allowed-signers allowed_signers\n',
      ].join('\n'),
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Commander's own message, on one line like every other error.
      outputError: (text, write) => write(`${foldedTail(text, 1500)}\n`),
    })
    .showSuggestionAfterError(true);
  const commands = [
    releasesCommand,
    showCommand,
    diffCommand,
    verifyCommand,
    statusCommand,
    rollbackCommand,
    unlockCommand,
  ];
  for (const add of commands) add(brr, io);
  return brr;
}

/** Runs one brr command line; returns the exit code. Every failure is one line on stderr. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const brr = program(io);
  if (argv.length === 0) {
    io.stderr.write(
      'error: expected a command: releases, show, diff, verify, status, rollback or unlock (brr --help)\n',
    );
    return EXIT.usage;
  }
  try {
    await brr.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here too, with exit code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    io.stderr.write(`${formatError(error)}\n`);
    return error instanceof UsageError ? EXIT.usage : EXIT.failed;
  }
}
