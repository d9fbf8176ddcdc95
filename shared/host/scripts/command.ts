import { shellQuote as q } from '../../names.js';
import { EXIT, fail, inRoot } from './root.js';

/**
 * Reads a `.env` as shared/dotenv.ts writes it and prints one `export NAME='value'` line per
 * variable, quoted for sh. Sourcing the file itself would run what a value holds: its
 * double-quoted and bare forms are literal to systemd and dotenv, not to sh. The forms:
 * 'value' and "value" (may span lines, never hold their own quote), or a bare one-line value.
 */
const ENV_EXPORTS = String.raw`
function shq(s,    out, i) {
  out = ""
  while ((i = index(s, "'")) > 0) { out = out substr(s, 1, i - 1) "'\\''"; s = substr(s, i + 1) }
  return "'" out s "'"
}
function emit() { printf "export %s=%s\n", name, shq(value) }
quote != "" {
  i = index($0, quote)
  if (i == 0) { value = value "\n" $0; next }
  value = value "\n" substr($0, 1, i - 1); emit(); quote = ""; next
}
{
  eq = index($0, "=")
  if (eq == 0) next
  name = substr($0, 1, eq - 1)
  if (name !~ /^[A-Za-z_][A-Za-z0-9_]*$/) next
  rest = substr($0, eq + 1)
  first = substr(rest, 1, 1)
  if (first == "'" || first == "\"") {
    rest = substr(rest, 2)
    i = index(rest, first)
    if (i == 0) { quote = first; value = rest; next }
    value = substr(rest, 1, i - 1); emit(); next
  }
  value = rest; emit()
}
`;

/**
 * The pids of a process and its descendants, children first: `ps` is POSIX, process groups in a
 * non-interactive sh are not (job control needs a terminal).
 */
const TREE = `tree() { for c in $(ps -A -o pid= -o ppid= 2>/dev/null | awk -v p="$1" '$2 == p { print $1 }'); do tree "$c"; done; echo "$1"; }`;

/**
 * A user's command (release command, restart, health check, stop) in a release directory with the
 * release's `.env` exported, values never passing through a command line. Output is merged so its
 * tail reads in order; stdin is closed so a command cannot swallow anything. After
 * `timeoutSeconds` the host stops it and what it started (TERM, then KILL), and the script exits
 * with EXIT.timedOut: a dropped SSH channel alone would leave it running.
 */
export function commandScript(
  root: string,
  id: string,
  command: string,
  timeoutSeconds?: number,
): string {
  const release = q(`releases/${id}`);
  const enter = [
    `cd ${release} || ${fail(EXIT.missing, `releases/${id} is missing`)}`,
    `if [ -f .env ]; then exports=$(awk ${q(ENV_EXPORTS)} .env) && eval "$exports" || exit 1; unset exports; fi`,
  ];
  if (timeoutSeconds === undefined) {
    return inRoot(root, [...enter, `exec /bin/sh -c ${q(command)} < /dev/null 2>&1`]);
  }
  const seconds = Math.max(1, Math.ceil(timeoutSeconds));
  return inRoot(root, [
    ...enter,
    TREE,
    // The watchdog tells this shell it fired; a trapped signal ends `wait` early, so wait again.
    `expired=; trap 'expired=1' USR1`,
    `/bin/sh -c ${q(command)} < /dev/null 2>&1 &`,
    `command=$!`,
    `{ sleep ${seconds}; kill -USR1 $$; kill -TERM $(tree "$command") 2>/dev/null; sleep 2; kill -KILL $(tree "$command") 2>/dev/null; } < /dev/null > /dev/null 2>&1 &`,
    `watchdog=$!`,
    `wait "$command"; status=$?`,
    `while kill -0 "$command" 2>/dev/null; do wait "$command"; status=$?; done`,
    `[ -z "$expired" ] || exit ${EXIT.timedOut}`,
    // The watchdog and its sleep, with KILL: a shell started with TERM ignored (as some callers
    // start it) can neither trap nor receive it, and its watchdog would outlive the script.
    `watched=$(tree "$watchdog")`,
    `kill -KILL "$watchdog" $watched 2>/dev/null`,
    `exit "$status"`,
  ]);
}
