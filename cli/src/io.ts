import type { Log } from './core.js';

/** Where brr's output goes. */
export interface Stream {
  write(text: string): unknown;
  /** True when the stream is a terminal: tables and colour are for people, not pipes. */
  isTTY?: boolean;
}

/** What the entry hands brr: the process's edges, passed in so nothing below reads them itself. */
export interface Io {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  stdout: Stream;
  stderr: Stream;
  /** Where large downloads (bundles, for `verify --bundles`) are kept while checked. */
  tempDir: string;
  /** Who runs brr, as `user@machine`: what the hosts' lock and history record. */
  operator: string;
}

/**
 * Progress and warnings go to stderr, so stdout holds only the answer (a table, or JSON).
 * brr never decrypts a secret, so there is nothing to mask.
 */
export function stderrLog(io: Io): Log {
  return {
    info: () => undefined,
    debug: () => undefined,
    warning: (message) => io.stderr.write(`warning: ${message}\n`),
    setSecret: () => undefined,
    group: (_title, body) => body(),
  };
}
