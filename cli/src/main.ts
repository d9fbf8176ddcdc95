import { Command, CommanderError } from 'commander';
import { diffCommand } from './commands/diff.js';
import { releasesCommand } from './commands/releases.js';
import { showCommand } from './commands/show.js';
import { statusCommand } from './commands/status.js';
import { verifyCommand } from './commands/verify.js';
import { foldedTail, formatError } from './core.js';
import type { Io } from './io.js';
import { UsageError } from './usage.js';

/** How brr ends: 0 done, 1 failed, 2 called wrongly (an option, an argument, no token). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

function program(io: Io): Command {
  const brr = new Command('brr')
    .description(
      "build-release-run's command line for the person on call: the ledger of releases, read and verified",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  brr releases production\n  brr show production latest\n  brr verify production --all --allowed-signers allowed_signers\n',
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Commander's own message, on one line like every other error.
      outputError: (text, write) => write(`${foldedTail(text, 1500)}\n`),
    })
    .showSuggestionAfterError(true);
  for (const add of [releasesCommand, showCommand, diffCommand, verifyCommand, statusCommand]) {
    add(brr, io);
  }
  return brr;
}

/** Runs one brr command line; returns the exit code. Every failure is one line on stderr. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const brr = program(io);
  if (argv.length === 0) {
    io.stderr.write('error: expected a command: releases, show, diff or verify (brr --help)\n');
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
